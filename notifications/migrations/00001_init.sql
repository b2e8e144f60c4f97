-- +goose Up
CREATE TABLE notifications_sent (
    notification_id TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         TEXT NOT NULL
);
CREATE INDEX notifications_sent_customer ON notifications_sent (customer_id, sent_at);
CREATE INDEX notifications_sent_kind ON notifications_sent (kind, sent_at);

CREATE TABLE notifications_customers (
    customer_id TEXT PRIMARY KEY,
    email       TEXT NOT NULL,
    name        TEXT NOT NULL
);

CREATE TABLE notifications_products (
    product_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL
);

-- +goose Down
DROP TABLE notifications_products;
DROP TABLE notifications_customers;
DROP TABLE notifications_sent;
