-- +goose Up
CREATE TABLE IF NOT EXISTS platform_checkpoints (
    name       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE platform_checkpoints;
