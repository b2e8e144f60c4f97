-- +goose Up
CREATE TABLE reviews_reviews (
    review_id     TEXT PRIMARY KEY,
    product_id    TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    rating        INTEGER NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    body_hash     TEXT NOT NULL,
    status        TEXT NOT NULL,
    verified      BOOLEAN NOT NULL,
    helpful_count INTEGER NOT NULL DEFAULT 0,
    flag_count    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    published_at  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reviews_reviews_product ON reviews_reviews (product_id, status, created_at);
CREATE INDEX reviews_reviews_customer ON reviews_reviews (customer_id, body_hash);
CREATE INDEX reviews_reviews_status ON reviews_reviews (status, created_at);

CREATE TABLE reviews_products (
    product_id TEXT PRIMARY KEY,
    active     BOOLEAN NOT NULL
);

CREATE TABLE reviews_purchases (
    customer_id TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    PRIMARY KEY (customer_id, product_id)
);

CREATE TABLE reviews_ratings (
    product_id   TEXT PRIMARY KEY,
    average      TEXT NOT NULL,
    review_count INTEGER NOT NULL,
    version      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE reviews_ratings;
DROP TABLE reviews_purchases;
DROP TABLE reviews_products;
DROP TABLE reviews_reviews;
