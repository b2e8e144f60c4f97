-- +goose Up
-- streams and inbox are looked up only by their text key. As rowid tables each
-- was two b-trees (the rows and the key's index), so every commit wrote a page
-- of each; WITHOUT ROWID keeps one b-tree per table, and a commit writes fewer
-- WAL frames.
CREATE TABLE streams_by_id (
    stream_id   TEXT    PRIMARY KEY,
    stream_type TEXT    NOT NULL,
    version     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO streams_by_id SELECT stream_id, stream_type, version FROM streams;
DROP TABLE streams;
ALTER TABLE streams_by_id RENAME TO streams;

CREATE TABLE inbox_by_id (
    id          TEXT    PRIMARY KEY,
    recorded_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO inbox_by_id SELECT id, recorded_at FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_by_id RENAME TO inbox;

-- +goose Down
CREATE TABLE streams_rowid (
    stream_id   TEXT    PRIMARY KEY,
    stream_type TEXT    NOT NULL,
    version     INTEGER NOT NULL
);
INSERT INTO streams_rowid SELECT stream_id, stream_type, version FROM streams;
DROP TABLE streams;
ALTER TABLE streams_rowid RENAME TO streams;

CREATE TABLE inbox_rowid (
    id          TEXT    PRIMARY KEY,
    recorded_at INTEGER NOT NULL
);
INSERT INTO inbox_rowid SELECT id, recorded_at FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_rowid RENAME TO inbox;
