-- +goose Up
CREATE TABLE promotions_promotions (
    promotion_id TEXT PRIMARY KEY,
    code_key     TEXT NOT NULL UNIQUE,
    data         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX promotions_promotions_created ON promotions_promotions (created_at, promotion_id);

-- +goose Down
DROP TABLE promotions_promotions;
