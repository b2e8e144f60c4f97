-- +goose Up
-- The built-in card processor's own books (payments.SQLLedger), in the
-- payments store so that every process sharing it sees one processor: the
-- first answer to each idempotency key, and each authorization's state.
CREATE TABLE payments_card_answers (
    idem_key TEXT PRIMARY KEY,
    answer   TEXT NOT NULL
);
CREATE TABLE payments_card_auths (
    auth_id  TEXT PRIMARY KEY,
    amount   BIGINT NOT NULL,
    currency TEXT NOT NULL,
    captured INTEGER NOT NULL,
    voided   INTEGER NOT NULL,
    refunded BIGINT NOT NULL
);

-- +goose Down
DROP TABLE payments_card_auths;
DROP TABLE payments_card_answers;
