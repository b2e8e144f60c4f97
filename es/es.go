// Package es is the event-sourcing core of Acme Commerce, standard library only.
//
// A bounded context keeps its state as events in its own Store. Aggregates are
// Deciders: pure decide/evolve functions. The command path (Aggregate.Handle)
// loads a stream (cached state or snapshot, then the tail), decides, and
// commits the new events with the version it read, retrying a bounded number
// of times on ErrConcurrency.
//
// A Commit is the unit of work of a context's store: appends to one or more
// streams, each with its own expected version, an optional inbox id that makes
// the whole unit idempotent (exactly-once consumers), and Apply, which writes
// read models in the same transaction (inline projections). Stores group
// concurrent commits into one database transaction (group commit) while every
// commit keeps its own checks.
//
// Every store has a global, gap-free log (Position). Positions are assigned in
// commit order, so a reader tailing the log can never pass over an event that
// commits later with a lower position.
//
// Messages (commands, events, queries) are declared once in a Registry with an
// explicit name and version; the Registry is the only way they are encoded and
// decoded. Commands a context sends to another context are entries of its own log
// too (kind Command), so the relay that publishes the log to the Bus is the outbox.
package es

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// Event is one stored fact.
type Event struct {
	ID            string          // UUIDv7, unique in the store; set by the caller
	StreamID      string          // e.g. "order-0190...": the aggregate instance
	StreamType    string          // e.g. "order": the aggregate kind
	Type          string          // registered message name, e.g. "OrderCreated"
	SchemaVersion int             // major version of Type's schema the data is written in
	Data          json.RawMessage // the payload, JSON
	Metadata      Metadata
	Version       int64     // 1-based position in the stream; set by the store
	Position      int64     // 1-based global position in the store's log, gap-free; set by the store
	RecordedAt    time.Time // set by the store, UTC
}

// Metadata travels with every event and message.
type Metadata struct {
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
	Actor         string `json:"actor,omitempty"`
	TraceParent   string `json:"traceparent,omitempty"`
}

// Expected stream versions for Append.
const (
	AnyVersion int64 = -1 // no check
	NoStream   int64 = 0  // the stream must not exist yet
)

// Errors returned by stores and the command path.
var (
	// ErrConcurrency: the stream's version was not the expected one (a lost race).
	ErrConcurrency = errors.New("es: concurrency conflict")
	// ErrDuplicate: the commit's InboxID was already committed; nothing was changed.
	ErrDuplicate = errors.New("es: duplicate message")
	// ErrEventIDConflict: an event id already stored with different content.
	ErrEventIDConflict = errors.New("es: event id reused with different content")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("es: store closed")
	// ErrNotFound: a snapshot or stream that does not exist.
	ErrNotFound = errors.New("es: not found")
)

// Append adds events to one stream.
type Append struct {
	StreamID   string
	StreamType string
	Expected   int64   // AnyVersion, NoStream, or the exact current version
	Events     []Event // ID, Type, SchemaVersion, Data, Metadata set; the store sets the rest
}

// Commit is one atomic unit of work in a context's store.
type Commit struct {
	Appends []Append
	// InboxID, when set, makes the commit idempotent: if a commit with the same
	// InboxID was committed before, Commit returns ErrDuplicate and changes nothing.
	// Consumers use "<consumer>/<message id>".
	InboxID string
	// InboxIDs are more inbox ids, for a commit that applies several messages
	// at once (a batch consumer): ErrDuplicate if any of them, or InboxID, was
	// committed before (or appears twice), and then nothing is stored.
	InboxIDs []string
	// Apply, when set, runs inside the transaction after the appends, given the
	// events as stored (Version, Position, RecordedAt set). It writes read models
	// through tx. An error aborts this commit only.
	Apply func(ctx context.Context, tx SQL, events []Event) error
	// Committed, when set, is called once the commit is durable, before Commit
	// returns nil (never after an error): it tells waiters in this process to
	// read what the commit wrote (a call from inside Apply would come before
	// COMMIT, and a read then still sees the old rows).
	Committed func()
}

// Inbox returns every inbox id of c: InboxID (when set), then InboxIDs.
func (c Commit) Inbox() []string {
	if c.InboxID == "" {
		return c.InboxIDs
	}
	return append([]string{c.InboxID}, c.InboxIDs...)
}

// Join is one Commit doing what cs do, in order: their Appends, then their
// Apply functions (each given every event the joined commit stored), then,
// once durable, their Committed functions. Inbox ids are left out: the caller
// sets them (the platform does for a batch consumer). Two commits appending to
// one stream would conflict on their expected versions: join commits to
// distinct streams, or Apply-only ones.
func Join(cs ...Commit) Commit {
	var j Commit
	var applies []func(context.Context, SQL, []Event) error
	var committed []func()
	for _, c := range cs {
		j.Appends = append(j.Appends, c.Appends...)
		if c.Apply != nil {
			applies = append(applies, c.Apply)
		}
		if c.Committed != nil {
			committed = append(committed, c.Committed)
		}
	}
	if len(committed) > 0 {
		j.Committed = func() {
			for _, f := range committed {
				f()
			}
		}
	}
	if len(applies) > 0 {
		j.Apply = func(ctx context.Context, tx SQL, events []Event) error {
			for _, a := range applies {
				if err := a(ctx, tx, events); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return j
}

// Result is what a successful Commit stored.
type Result struct {
	Events   []Event // as stored, in order; for an idempotent re-append, the originals
	Position int64   // the store's log position after the commit (the consistency token)
}

// StreamQuery selects part of a stream. Zero values mean "from the start" and "to the end".
type StreamQuery struct {
	FromVersion int64     // first version to return (inclusive); 0 or 1 = from the start
	ToVersion   int64     // last version to return (inclusive); 0 = no limit
	AsOf        time.Time // only events recorded at or before this time; zero = no limit
}

// Snapshot is a saved aggregate state at a stream version.
type Snapshot struct {
	StreamID      string
	Version       int64
	SchemaVersion int // of the state encoding; a snapshot of another version is ignored
	State         json.RawMessage
	RecordedAt    time.Time
}

// SQL is the read-model access of a context's own database: *sql.DB and *sql.Tx
// satisfy it. Queries use $1, $2, ... placeholders and SQL that both SQLite and
// PostgreSQL accept (TEXT, BIGINT, INTEGER, BOOLEAN; ON CONFLICT upserts; times
// as RFC 3339 TEXT or BIGINT unix micros).
type SQL interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
