-- +goose Up
-- The cart's own read models of other contexts' facts (consumers) and of its
-- checkout requests (inline + consumer).
CREATE TABLE cart_products (
    product_id     TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    price_amount   BIGINT NOT NULL,
    price_currency TEXT NOT NULL,
    category_id    TEXT NOT NULL,
    active         BOOLEAN NOT NULL
);

CREATE TABLE cart_variants (
    variant_id        TEXT PRIMARY KEY,
    product_id        TEXT NOT NULL,
    label             TEXT NOT NULL,
    modifier_amount   BIGINT NOT NULL,
    modifier_currency TEXT NOT NULL
);
CREATE INDEX cart_variants_product ON cart_variants (product_id);

-- available units per stock item; position is the inventory log position of
-- the event that set it (older events never overwrite newer levels).
CREATE TABLE cart_stock (
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    available  BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (product_id, variant_id)
);

CREATE TABLE cart_promotions (
    code_key        TEXT PRIMARY KEY,
    promotion_id    TEXT NOT NULL,
    code            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    percent_bp      BIGINT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    min_amount      BIGINT NOT NULL,
    min_currency    TEXT NOT NULL,
    product_ids     TEXT NOT NULL,
    category_ids    TEXT NOT NULL,
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL
);

CREATE TABLE cart_checkouts (
    checkout_id    TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    cart_id        TEXT NOT NULL,
    status         TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    items          TEXT NOT NULL,
    promotion_code TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- +goose Down
DROP TABLE cart_checkouts;
DROP TABLE cart_promotions;
DROP TABLE cart_stock;
DROP TABLE cart_variants;
DROP TABLE cart_products;
