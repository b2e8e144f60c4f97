-- The raw baseline of the PostgreSQL event store benchmark: a table of the
-- same shape as es_events (postgres/migrations/00001_event_store.sql), with
-- the same three unique indexes, in its own schema.
DROP SCHEMA IF EXISTS pgbench_es CASCADE;
CREATE SCHEMA pgbench_es;
CREATE TABLE pgbench_es.events (
    position       BIGINT      NOT NULL,
    id             TEXT        NOT NULL,
    stream_id      TEXT        NOT NULL,
    stream_type    TEXT        NOT NULL,
    version        BIGINT      NOT NULL,
    type           TEXT        NOT NULL,
    schema_version INTEGER     NOT NULL,
    data           JSONB,
    correlation_id TEXT        NOT NULL DEFAULT '',
    causation_id   TEXT        NOT NULL DEFAULT '',
    actor          TEXT        NOT NULL DEFAULT '',
    traceparent    TEXT        NOT NULL DEFAULT '',
    recorded_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT events_position_pk PRIMARY KEY (position),
    CONSTRAINT events_id_key UNIQUE (id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);
CREATE SEQUENCE pgbench_es.position_seq;
