package es

import (
	"context"
	"io/fs"
)

// Host is what a bounded context is given when the process starts it: its own
// store, the message registry, and the ways to hear from other contexts. It is
// implemented by the app wiring (package app) over the Bus; contexts never see
// the Bus, another context's store, or any adapter directly.
type Host interface {
	// Name is the context's name ("catalog").
	Name() string
	// Store is the context's own event store and database.
	Store() Store
	// Registry is the process-wide message registry.
	Registry() *Registry
	// NewID returns a new UUIDv7.
	NewID() string

	// Consume registers a durable consumer, unique by name within the context
	// ("<context>.<name>" across the platform), of the named messages: events of
	// any context, or commands this context owns (a command has exactly one
	// handler group; several processes share the work). Each message is applied
	// exactly once: h's Commit is stored with the inbox id "<consumer>/<message id>".
	// Must be called before Start.
	Consume(name string, types []string, h Handler)

	// ConsumeBatch is Consume for a handler that applies up to the platform's
	// batch size of pending messages in one Commit (one inbox id per message),
	// for consumers whose rate matters (read models, counters): the store's
	// per-commit cost is paid once per batch. Must be called before Start.
	ConsumeBatch(name string, types []string, h BatchHandler)

	// Project registers an asynchronous projection over this context's own log
	// (position checkpoint stored in the projection's transaction), rebuildable.
	// Must be called before Start.
	Project(p Projection)
}

// Projection is a read model built from a context's own log.
type Projection struct {
	Name string // unique across the platform: "<context>.<model>"
	// Migrations (goose, portable SQL) creating the read model's tables; applied
	// at start. Optional.
	Migrations fs.FS
	// Apply writes the effect of events (in position order) through tx. It must be
	// idempotent: a rebuild or a replay applies events again.
	Apply func(ctx context.Context, tx SQL, events []Event) error
	// Reset deletes everything the projection wrote (a rebuild runs Reset, then
	// replays the log). Rebuilds keep reads served (see the runner).
	Reset func(ctx context.Context, tx SQL) error
	// Progress, when set, reports position and lag for a read model that is
	// not fed by the context's log (search's full-text index follows its own
	// change counter): GET /api/v1/admin/projections shows these instead of
	// the log checkpoint. Optional.
	Progress func(ctx context.Context) (position, lag int64, err error)
}

// Module is one bounded context: what the app wiring starts. Each context
// package exposes New(...) returning a Module.
//
// A Module that runs background work of its own (a timer loop, a sweeper)
// also implements io.Closer (optional): Close stops that work and waits for it
// to end. The app calls it once the platform has stopped (no message is being
// delivered any more) and before the module's store closes, in reverse start
// order; Close must be safe to call more than once.
type Module interface {
	// Name is the context's name; its store is opened under this name.
	Name() string
	// Messages lists every message the context owns (declares).
	Messages() []MessageType
	// Start registers consumers and projections on h and prepares the context;
	// it must not block. The context keeps h for its lifetime.
	Start(ctx context.Context, h Host) error
}
