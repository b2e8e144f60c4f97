-- +goose Up
CREATE TABLE catalog_categories (
    category_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    parent_id   TEXT NOT NULL,
    depth       INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE catalog_products (
    product_id     TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    price_amount   BIGINT NOT NULL,
    price_currency TEXT NOT NULL,
    category_id    TEXT NOT NULL,
    active         BOOLEAN NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE catalog_variants (
    variant_id        TEXT PRIMARY KEY,
    product_id        TEXT NOT NULL,
    sku               TEXT NOT NULL,
    sku_key           TEXT NOT NULL UNIQUE,
    size              TEXT NOT NULL,
    color             TEXT NOT NULL,
    modifier_amount   BIGINT NOT NULL,
    modifier_currency TEXT NOT NULL,
    position          BIGINT NOT NULL
);
CREATE INDEX catalog_variants_product ON catalog_variants (product_id, position);

-- +goose Down
DROP TABLE catalog_variants;
DROP TABLE catalog_products;
DROP TABLE catalog_categories;
