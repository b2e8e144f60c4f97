-- +goose Up
CREATE TABLE search_categories (
    category_id TEXT PRIMARY KEY,
    parent_id   TEXT NOT NULL,
    path        TEXT NOT NULL
);
CREATE TABLE search_products (
    product_id     TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    price_amount   BIGINT NOT NULL,
    price_currency TEXT NOT NULL,
    category_id    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    active         BOOLEAN NOT NULL,
    rating_x100    BIGINT NOT NULL,
    review_count   BIGINT NOT NULL,
    seq            BIGINT NOT NULL
);
CREATE INDEX search_products_seq ON search_products (seq);
CREATE INDEX search_products_newest ON search_products (active, created_at, product_id);
CREATE INDEX search_products_price ON search_products (active, price_amount, product_id);
CREATE INDEX search_products_rating ON search_products (active, rating_x100, review_count, product_id);
CREATE INDEX search_products_category ON search_products (category_id, active);
CREATE TABLE search_ratings (
    product_id   TEXT PRIMARY KEY,
    rating_x100  BIGINT NOT NULL,
    review_count BIGINT NOT NULL
);
CREATE TABLE search_stock (
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    available  BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (product_id, variant_id)
);
CREATE TABLE search_meta (
    id      INTEGER PRIMARY KEY,
    seq     BIGINT NOT NULL,
    rebuild BIGINT NOT NULL
);
INSERT INTO search_meta (id, seq, rebuild) VALUES (1, 0, 0);

-- +goose Down
DROP TABLE search_meta;
DROP TABLE search_stock;
DROP TABLE search_ratings;
DROP TABLE search_products;
DROP TABLE search_categories;
