-- pgbench script: the raw equivalent of one single-event append. One
-- transaction (pgbench's implicit one per statement) inserting one ~300-byte
-- JSONB event into pgbench_es.events (same shape and indexes as es_events).
-- The position comes from a sequence (the BIGSERIAL way: no commit-order
-- guarantee, which the store pays for) and the stream version from the same
-- sequence (unique per stream); no expected-version check, no inbox, no
-- NOTIFY. The payload is estest.BenchPayload.
INSERT INTO pgbench_es.events (position, id, stream_id, stream_type, version, type, schema_version, data, recorded_at)
SELECT p, gen_random_uuid()::text, 'bench-' || :client_id, 'bench', p, 'BenchEvent', 1,
       '{"orderId":"0190c0de-7a1b-7c3d-8e4f-5a6b7c8d9e0f","customerId":"0190c0de-7a1b-7c3d-8e4f-000000000042","lines":[{"sku":"SKU-RED-42","quantity":2,"unitPrice":{"amount":1999,"currency":"EUR"}},{"sku":"SKU-BLUE-7","quantity":1,"unitPrice":{"amount":4500,"currency":"EUR"}}],"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'::jsonb,
       now()
FROM nextval('pgbench_es.position_seq') AS p;
