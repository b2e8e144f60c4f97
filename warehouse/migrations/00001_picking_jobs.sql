-- +goose Up
CREATE TABLE warehouse_picking_jobs (
    job_id      TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    line_items  TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     BIGINT NOT NULL
);
CREATE INDEX warehouse_picking_jobs_status ON warehouse_picking_jobs (status, opened_at);

-- +goose Down
DROP TABLE warehouse_picking_jobs;
