-- +goose Up
CREATE TABLE ordering_orders (
    order_id    TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    placed_at   TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX ordering_orders_customer ON ordering_orders (customer_id, placed_at);
CREATE INDEX ordering_orders_status ON ordering_orders (status, placed_at);

-- +goose Down
DROP TABLE ordering_orders;
