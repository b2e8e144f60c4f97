-- +goose Up
CREATE TABLE checkout_sagas (
    checkout_id    TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    status         TEXT NOT NULL,
    step           TEXT NOT NULL,
    deadline       TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        BIGINT NOT NULL
);
CREATE INDEX checkout_sagas_pending ON checkout_sagas (status, deadline);
CREATE INDEX checkout_sagas_started ON checkout_sagas (started_at);

-- +goose Down
DROP TABLE checkout_sagas;
