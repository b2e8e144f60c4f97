-- +goose Up
-- Published reviews per product, kept by the inline projection in the same
-- transaction as the review events (Get Product Reviews' total without a COUNT).
CREATE TABLE reviews_product_counts (
    product_id TEXT PRIMARY KEY,
    published  INTEGER NOT NULL
);
INSERT INTO reviews_product_counts (product_id, published)
    SELECT product_id, COUNT(*) FROM reviews_reviews WHERE status = 'PUBLISHED' GROUP BY product_id;

-- +goose Down
DROP TABLE reviews_product_counts;
