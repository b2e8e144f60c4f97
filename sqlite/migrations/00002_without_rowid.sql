-- +goose Up
-- Fewer pages written per commit (SQLite writes every page a transaction
-- changes to the WAL, whole):
--   - streams goes: a stream's version is its last event's, read on the
--     events' (stream_id, version) index by the single writer; the table was
--     one more page written by every commit.
--   - inbox is looked up by its key only: WITHOUT ROWID keeps one b-tree
--     instead of the rows and the key's index.
DROP TABLE streams;

CREATE TABLE inbox_by_id (
    id          TEXT    PRIMARY KEY,
    recorded_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO inbox_by_id SELECT id, recorded_at FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_by_id RENAME TO inbox;

-- +goose Down
CREATE TABLE streams (
    stream_id   TEXT    PRIMARY KEY,
    stream_type TEXT    NOT NULL,
    version     INTEGER NOT NULL
);
INSERT INTO streams (stream_id, stream_type, version)
    SELECT stream_id, MIN(stream_type), MAX(version) FROM events GROUP BY stream_id;

CREATE TABLE inbox_rowid (
    id          TEXT    PRIMARY KEY,
    recorded_at INTEGER NOT NULL
);
INSERT INTO inbox_rowid SELECT id, recorded_at FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_rowid RENAME TO inbox;
