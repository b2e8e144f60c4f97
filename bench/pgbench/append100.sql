-- pgbench script: the raw equivalent of one 100-event append: one transaction
-- inserting 100 ~300-byte JSONB events (one multi-row INSERT ... SELECT) into
-- pgbench_es.events. Events/s = TPS x 100. The payload is the bound parameter
-- :payload (see append.sql) with 0 or 1 trailing space, so that it is parsed
-- into jsonb once per row, as the store's events are.
INSERT INTO pgbench_es.events (position, id, stream_id, stream_type, version, type, schema_version, data, recorded_at)
SELECT s.p, gen_random_uuid()::text, 'bench-' || :client_id, 'bench', s.p, 'BenchEvent', 1,
       (:payload || repeat(' ', (s.p % 2)::int))::jsonb, now()
FROM (SELECT nextval('pgbench_es.position_seq') AS p FROM generate_series(1, 100)) AS s;
