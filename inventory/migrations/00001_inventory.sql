-- +goose Up
CREATE TABLE inventory_products (
    product_id   TEXT PRIMARY KEY,
    active       BOOLEAN NOT NULL,
    has_variants BOOLEAN NOT NULL
);
CREATE TABLE inventory_variants (
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    PRIMARY KEY (product_id, variant_id)
);
CREATE TABLE inventory_levels (
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    on_hand    BIGINT NOT NULL,
    reserved   BIGINT NOT NULL,
    available  BIGINT NOT NULL,
    PRIMARY KEY (product_id, variant_id)
);
CREATE TABLE inventory_reservations (
    checkout_id TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX inventory_reservations_due ON inventory_reservations (status, expires_at);

-- +goose Down
DROP TABLE inventory_reservations;
DROP TABLE inventory_levels;
DROP TABLE inventory_variants;
DROP TABLE inventory_products;
