-- +goose Up
-- The duplicate-text check is gone (the contract publishes any review without
-- a link or a listed word), and with it the hash it looked up.
DROP INDEX reviews_reviews_customer;
ALTER TABLE reviews_reviews DROP COLUMN body_hash;

-- +goose Down
ALTER TABLE reviews_reviews ADD COLUMN body_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX reviews_reviews_customer ON reviews_reviews (customer_id, body_hash);
