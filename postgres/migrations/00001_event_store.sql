-- The event store of one bounded context (one PostgreSQL schema per context).
-- Tables are prefixed es_ so the context's read models can live beside them.

-- +goose Up
CREATE TABLE es_events (
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
    CONSTRAINT es_events_position_pk PRIMARY KEY (position),
    CONSTRAINT es_events_id_key UNIQUE (id),
    CONSTRAINT es_events_stream_version_key UNIQUE (stream_id, version)
);

-- The current version of every stream: the expected-version check reads it.
CREATE TABLE es_streams (
    stream_id   TEXT   NOT NULL,
    stream_type TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    CONSTRAINT es_streams_pk PRIMARY KEY (stream_id)
);

-- The one-row position counter. Every committing transaction holds its row
-- lock until COMMIT, which is what makes positions gap-free and commit-ordered
-- across processes (see the package doc).
CREATE TABLE es_position (
    id   INTEGER NOT NULL,
    last BIGINT  NOT NULL,
    CONSTRAINT es_position_pk PRIMARY KEY (id),
    CONSTRAINT es_position_one_row CHECK (id = 1)
);
INSERT INTO es_position (id, last) VALUES (1, 0);

-- Commit.InboxID of every committed unit (exactly-once consumers).
CREATE TABLE es_inbox (
    id          TEXT        NOT NULL,
    position    BIGINT      NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT es_inbox_pk PRIMARY KEY (id)
);

CREATE TABLE es_snapshots (
    stream_id      TEXT        NOT NULL,
    version        BIGINT      NOT NULL,
    schema_version INTEGER     NOT NULL,
    state          JSONB,
    recorded_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT es_snapshots_pk PRIMARY KEY (stream_id, version)
);

-- +goose Down
DROP TABLE es_snapshots;
DROP TABLE es_inbox;
DROP TABLE es_position;
DROP TABLE es_streams;
DROP TABLE es_events;
