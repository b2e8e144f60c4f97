-- pgbench script: the raw equivalent of one single-event append. One
-- transaction (pgbench's implicit one per statement) inserting one ~300-byte
-- JSONB event into pgbench_es.events (same shape and indexes as es_events).
-- The payload (payload.json = estest.BenchPayload) is a bound parameter,
-- parsed into jsonb on every insert as the store's are (run.sh passes it
-- with -D payload=...; needs -M prepared or -M extended). The position comes
-- from a sequence (the BIGSERIAL way: no commit-order guarantee, which the
-- store pays for) and the stream version from the same sequence (unique per
-- stream); no expected-version check, no inbox, no NOTIFY.
INSERT INTO pgbench_es.events (position, id, stream_id, stream_type, version, type, schema_version, data, recorded_at)
SELECT p, gen_random_uuid()::text, 'bench-' || :client_id, 'bench', p, 'BenchEvent', 1, :payload::jsonb, now()
FROM nextval('pgbench_es.position_seq') AS p;
