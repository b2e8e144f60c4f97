-- pgbench script: the raw equivalent of one 100-event append: one transaction
-- inserting 100 ~300-byte JSONB events (one multi-row INSERT ... SELECT) into
-- pgbench_es.events. Events/s = TPS x 100. The context for the store's
-- "events=100" benchmark: what this machine allows for bulk inserts at all.
INSERT INTO pgbench_es.events (position, id, stream_id, stream_type, version, type, schema_version, data, recorded_at)
SELECT p, gen_random_uuid()::text, 'bench-' || :client_id, 'bench', p, 'BenchEvent', 1,
       '{"orderId":"0190c0de-7a1b-7c3d-8e4f-5a6b7c8d9e0f","customerId":"0190c0de-7a1b-7c3d-8e4f-000000000042","lines":[{"sku":"SKU-RED-42","quantity":2,"unitPrice":{"amount":1999,"currency":"EUR"}},{"sku":"SKU-BLUE-7","quantity":1,"unitPrice":{"amount":4500,"currency":"EUR"}}],"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'::jsonb,
       now()
FROM (SELECT nextval('pgbench_es.position_seq') AS p FROM generate_series(1, 100)) AS s;
