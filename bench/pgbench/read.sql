-- pgbench script: the raw equivalent of one global-log read batch: 1,000
-- events after a random position, in position order, every column (as
-- es_events is read by ReadAll). Events/s = TPS x 1000. run.sh fills the
-- table with 50,000 events first.
\set after random(0, 49000)
SELECT position, id, stream_id, stream_type, version, type, schema_version, data,
       correlation_id, causation_id, actor, traceparent, recorded_at
FROM pgbench_es.events WHERE position > :after ORDER BY position LIMIT 1000;
