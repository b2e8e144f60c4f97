-- +goose Up
-- The event store of one bounded context. position is the gap-free global log
-- (assigned by the single writer in commit order); recorded_at is unix microseconds UTC.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    stream_type    TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    data           TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL,
    UNIQUE (stream_id, version)
);

CREATE TABLE streams (
    stream_id   TEXT    PRIMARY KEY,
    stream_type TEXT    NOT NULL,
    version     INTEGER NOT NULL
);

CREATE TABLE inbox (
    id          TEXT    PRIMARY KEY,
    recorded_at INTEGER NOT NULL
);

CREATE TABLE snapshots (
    stream_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL,
    PRIMARY KEY (stream_id, version)
);

-- +goose Down
DROP TABLE snapshots;
DROP TABLE inbox;
DROP TABLE streams;
DROP TABLE events;
