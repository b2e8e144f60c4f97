-- +goose Up
-- ?orderId= on the job list: without it the filter scanned every live job.
CREATE INDEX warehouse_picking_jobs_order ON warehouse_picking_jobs (order_id);

-- +goose Down
DROP INDEX warehouse_picking_jobs_order;
