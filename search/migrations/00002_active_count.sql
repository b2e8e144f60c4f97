-- +goose Up
-- The count of active products, kept by the consumer: the total of an
-- unfiltered browse without counting the table.
ALTER TABLE search_meta ADD COLUMN active BIGINT NOT NULL DEFAULT 0;
UPDATE search_meta SET active = (SELECT COUNT(*) FROM search_products WHERE active = TRUE) WHERE id = 1;

-- +goose Down
ALTER TABLE search_meta DROP COLUMN active;
