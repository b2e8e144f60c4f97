package es

import (
	"context"
	"io/fs"
)

// Store is a bounded context's event store and database. Implementations:
// sqlite (embedded default) and postgres; both pass estest.RunStore.
//
// All methods return ErrClosed after Close, and ctx.Err() (wrapped) when ctx is
// done before the work is durable. Driver errors are wrapped, never leaked as
// ErrConcurrency look-alikes.
type Store interface {
	// Commit atomically stores c. It returns once the unit is durable.
	// Errors: ErrConcurrency (an Append's Expected did not match; nothing stored),
	// ErrDuplicate (one of c.Inbox() already committed; nothing stored),
	// ErrEventIDConflict (an event id exists with other content), the error of
	// c.Apply (nothing stored). Re-appending events whose ids are all already stored
	// with identical content (same stream, type, data) is a no-op that returns the
	// original events and no error, whatever Expected says.
	Commit(ctx context.Context, c Commit) (Result, error)

	// ReadStream returns the events of one stream in version order, filtered by q
	// (temporal reads: q.ToVersion, q.AsOf). A stream that does not exist yields
	// no events and no error.
	ReadStream(ctx context.Context, streamID string, q StreamQuery) ([]Event, error)

	// StreamVersion returns the current version of a stream, 0 if it does not exist.
	StreamVersion(ctx context.Context, streamID string) (int64, error)

	// ReadAll returns up to limit events of the global log with Position > after,
	// in Position order. Positions are gap-free and assigned in commit order, so a
	// reader that has seen position p has seen every event at or below p. It may
	// return fewer than limit while more exist: read on from the last event;
	// only an empty answer says nothing newer is visible.
	ReadAll(ctx context.Context, after int64, limit int) ([]Event, error)

	// Head returns the position of the last committed event (0 when empty).
	Head(ctx context.Context) (int64, error)

	// Wait blocks until Head() > after or ctx is done (returns ctx.Err()). It is
	// woken by commits (in-process signal; LISTEN/NOTIFY on PostgreSQL, so commits
	// by other processes wake it too), never by a fixed polling delay alone.
	Wait(ctx context.Context, after int64) error

	// SaveSnapshot stores s (replacing any older snapshot of the same version).
	SaveSnapshot(ctx context.Context, s Snapshot) error
	// LoadSnapshot returns the latest snapshot of streamID with Version <= maxVersion
	// (maxVersion 0 = any). ErrNotFound when there is none.
	LoadSnapshot(ctx context.Context, streamID string, maxVersion int64) (Snapshot, error)

	// DB is the context's own database for read-model queries outside a Commit.
	DB() SQL

	// Migrate applies the embedded SQL migrations in fsys (goose format, portable
	// SQL) for the named owner (a context or projection); idempotent.
	Migrate(ctx context.Context, owner string, fsys fs.FS) error

	// Dialect is "sqlite" or "postgres", for the rare query that must differ.
	Dialect() string

	Close() error
}

// Opener opens the store of a named bounded context. The embedded default opens
// <data-dir>/<name>.db; server mode opens the PostgreSQL schema <prefix><name>.
type Opener func(ctx context.Context, name string) (Store, error)

// MigrateDir applies the goose migrations in the directory dir of fsys (an
// embedded FS, usually with dir "migrations") to s for owner.
func MigrateDir(ctx context.Context, s Store, owner string, fsys fs.FS, dir string) error {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return err
	}
	return s.Migrate(ctx, owner, sub)
}
