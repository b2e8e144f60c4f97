-- +goose Up
-- Jobs never opened (their order was cancelled before it was confirmed) are
-- no longer listed; rows the projection wrote for them before go too.
DELETE FROM warehouse_picking_jobs WHERE customer_id = '' AND line_items = '[]';

-- +goose Down
SELECT 1;
