-- Fills pgbench_es.events with 50,000 events (positions 1..50000) for read.sql.
TRUNCATE pgbench_es.events;
INSERT INTO pgbench_es.events (position, id, stream_id, stream_type, version, type, schema_version, data, correlation_id, recorded_at)
SELECT g, gen_random_uuid()::text, 'bench-' || (g % 1000), 'bench', g, 'BenchEvent', 1, '{"orderId":"0190c0de-7a1b-7c3d-8e4f-5a6b7c8d9e0f","customerId":"0190c0de-7a1b-7c3d-8e4f-000000000042","lines":[{"sku":"SKU-RED-42","quantity":2,"unitPrice":{"amount":1999,"currency":"EUR"}},{"sku":"SKU-BLUE-7","quantity":1,"unitPrice":{"amount":4500,"currency":"EUR"}}],"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'::jsonb, 'bench', now()
FROM generate_series(1, 50000) AS g;
VACUUM ANALYZE pgbench_es.events;
