-- +goose Up
-- The category tree (from catalog's CategoryCreated): a promotion scoped to
-- a category covers its sub-categories.
CREATE TABLE cart_categories (
    category_id TEXT PRIMARY KEY,
    parent_id   TEXT NOT NULL
);

-- +goose Down
DROP TABLE cart_categories;
