package es

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Decider is an aggregate as two pure functions. Events are payload values of
// declared message types (see Define); Decide must not do I/O, read the clock or
// generate ids: put those in the command.
type Decider[S, C any] struct {
	// Initial is the state of a stream with no events (zero S if nil).
	Initial func() S
	// Decide returns the events cmd produces in state (none is fine), or an error
	// (an *acme.Error for a rule the client broke).
	Decide func(state S, cmd C) ([]any, error)
	// Evolve returns the state after event (a decoded payload value).
	Evolve func(state S, event any) S
}

// Aggregate runs the command path of one stream type of a context.
type Aggregate[S, C any] struct {
	Store      Store
	Registry   *Registry
	NewID      func() string // event ids (UUIDv7)
	StreamType string
	Decider    Decider[S, C]
	// SnapshotEvery saves a snapshot when a commit crosses a multiple of N
	// versions (0 = never). S must round-trip through encoding/json.
	SnapshotEvery int64
	// SnapshotVersion is the version of S's JSON encoding; bump it when S changes.
	SnapshotVersion int
	// Inline, when set, projects the new events into read models in the same
	// transaction as the append.
	Inline func(ctx context.Context, tx SQL, events []Event) error
	// Retries on ErrConcurrency (default ConflictRetries; see RetryConflicts).
	Retries int
	// CacheStates keeps the current state of up to N recently loaded streams
	// in memory (0 = none), so a load decodes only the events after it, not a
	// snapshot and its tail: for states that grow (a stock item's holds).
	// Events are immutable, so a cached state is a valid start however stale;
	// Evolve must not mutate its input (cached states are shared).
	CacheStates int

	cache stateCache[S]
}

// Loaded is a stream's state at a version.
type Loaded[S any] struct {
	State   S
	Version int64 // 0 = the stream does not exist
}

// Load rebuilds the state of streamID (cached state or snapshot, then the
// tail). With q.ToVersion or q.AsOf it rebuilds the state as it was then (no
// cached state or snapshot newer than that is used).
func (a *Aggregate[S, C]) Load(ctx context.Context, streamID string, q StreamQuery) (Loaded[S], error) {
	current := q.ToVersion == 0 && q.AsOf.IsZero()
	st, from, snapshot := a.initial(), int64(0), int64(0)
	cached, hit := cachedState[S]{}, false
	if current && a.CacheStates > 0 {
		cached, hit = a.cache.get(streamID)
	}
	switch {
	case hit:
		st, from, snapshot = cached.state, cached.version, cached.snapshot
	case a.SnapshotEvery > 0 && q.AsOf.IsZero():
		snap, err := a.Store.LoadSnapshot(ctx, streamID, q.ToVersion)
		switch {
		case err == nil && snap.SchemaVersion == a.SnapshotVersion:
			if json.Unmarshal(snap.State, &st) == nil {
				from, snapshot = snap.Version, snap.Version
			} else {
				st = a.initial()
			}
		case err != nil && !errors.Is(err, ErrNotFound):
			return Loaded[S]{}, fmt.Errorf("load snapshot %s: %w", streamID, err)
		}
	}
	q.FromVersion = from + 1
	events, err := a.Store.ReadStream(ctx, streamID, q)
	if err != nil {
		return Loaded[S]{}, fmt.Errorf("read %s: %w", streamID, err)
	}
	version := from
	for _, e := range events {
		v, err := a.Registry.Decode(e)
		if err != nil {
			return Loaded[S]{}, err
		}
		st = a.Decider.Evolve(st, v)
		version = e.Version
	}
	// A current-state load SnapshotEvery events or more past the last
	// snapshot saves one, so streams driven through Decide (consumers) are
	// snapshotted like those driven through Handle.
	if current && a.SnapshotEvery > 0 && version-snapshot >= a.SnapshotEvery {
		a.saveSnapshot(ctx, streamID, version, st)
		snapshot = version
	}
	if current && a.CacheStates > 0 && (!hit || version > from) {
		a.cache.put(a.CacheStates, streamID, cachedState[S]{state: st, version: version, snapshot: snapshot})
	}
	return Loaded[S]{State: st, Version: version}, nil
}

// Decide loads streamID, runs cmd and returns the Append it produces (with the
// version it read as Expected) and the state after it, without storing anything.
// Consumers use it to build a Commit that also carries their inbox id.
func (a *Aggregate[S, C]) Decide(ctx context.Context, streamID string, cmd C) (Append, S, error) {
	return a.DecideAll(ctx, streamID, []C{cmd}, nil)
}

// DecideAll is Decide for several commands in order, each deciding on the
// state the previous ones left: one load and one Append for all of them (a
// batch consumer's messages to one stream). The events of cmds[i] carry
// mds[i] (the context's metadata when mds is nil). An error of any command
// fails them all.
func (a *Aggregate[S, C]) DecideAll(ctx context.Context, streamID string, cmds []C, mds []Metadata) (Append, S, error) {
	cur, err := a.Load(ctx, streamID, StreamQuery{})
	if err != nil {
		return Append{}, cur.State, err
	}
	app := Append{StreamID: streamID, StreamType: a.StreamType, Expected: cur.Version}
	st := cur.State
	for i, cmd := range cmds {
		vals, err := a.Decider.Decide(st, cmd)
		if err != nil {
			return Append{}, cur.State, err
		}
		md := MetadataFrom(ctx)
		if mds != nil {
			md = mds[i]
		}
		for _, v := range vals {
			e, err := a.Registry.Encode(a.NewID(), v, md)
			if err != nil {
				return Append{}, cur.State, err
			}
			app.Events = append(app.Events, e)
			st = a.Decider.Evolve(st, v)
		}
	}
	return app, st, nil
}

// Handled is the outcome of Handle.
type Handled[S any] struct {
	State    S
	Version  int64   // the stream's version after the command
	Events   []Event // as stored (none when the command changed nothing)
	Position int64   // the store's log position after the commit (consistency token)
}

// Handle runs the command path: load, decide, commit with the expected version;
// on ErrConcurrency it reloads and decides again (bounded). A command that
// produces no events stores nothing.
func (a *Aggregate[S, C]) Handle(ctx context.Context, streamID string, cmd C) (Handled[S], error) {
	retries := a.Retries
	if retries <= 0 {
		retries = ConflictRetries
	}
	var h Handled[S]
	var app Append
	err := RetryConflicts(ctx, retries, func() error {
		var err error
		app, h.State, err = a.Decide(ctx, streamID, cmd)
		if err != nil || len(app.Events) == 0 {
			return err
		}
		res, err := a.Store.Commit(ctx, Commit{Appends: []Append{app}, Apply: a.Inline})
		if err != nil {
			return err
		}
		h.Events, h.Position = res.Events, res.Position
		return nil
	})
	if err != nil {
		return Handled[S]{State: h.State}, err
	}
	h.Version = app.Expected + int64(len(app.Events))
	if len(app.Events) > 0 {
		saved := a.maybeSnapshot(ctx, streamID, app.Expected, h)
		if a.CacheStates > 0 {
			c := cachedState[S]{state: h.State, version: h.Version}
			if saved {
				c.snapshot = h.Version
			} else if old, ok := a.cache.get(streamID); ok {
				c.snapshot = old.snapshot
			}
			a.cache.put(a.CacheStates, streamID, c)
		}
	}
	return h, nil
}

// maybeSnapshot saves a snapshot when the commit crossed a multiple of
// SnapshotEvery, and says whether it did. A failed snapshot is harmless (the
// next load reads more events).
func (a *Aggregate[S, C]) maybeSnapshot(ctx context.Context, streamID string, before int64, h Handled[S]) bool {
	n := a.SnapshotEvery
	if n <= 0 || h.Version/n == before/n {
		return false
	}
	a.saveSnapshot(ctx, streamID, h.Version, h.State)
	return true
}

// saveSnapshot stores st as the state at version (best effort: a failed
// snapshot only means the next load reads more events).
func (a *Aggregate[S, C]) saveSnapshot(ctx context.Context, streamID string, version int64, st S) {
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	_ = a.Store.SaveSnapshot(ctx, Snapshot{StreamID: streamID, Version: version, SchemaVersion: a.SnapshotVersion, State: b})
}

func (a *Aggregate[S, C]) initial() S {
	if a.Decider.Initial != nil {
		return a.Decider.Initial()
	}
	var s S
	return s
}

// stateCache holds streams' current states (Aggregate.CacheStates).
type stateCache[S any] struct {
	mu     sync.Mutex
	states map[string]cachedState[S]
}

type cachedState[S any] struct {
	state    S
	version  int64
	snapshot int64 // version of the stream's latest snapshot known
}

func (c *stateCache[S]) get(streamID string) (cachedState[S], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.states[streamID]
	return s, ok
}

// put keeps s unless a newer state of the stream is held; when the cache is
// full an arbitrary entry makes room (map order is random).
func (c *stateCache[S]) put(limit int, streamID string, s cachedState[S]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.states[streamID]; ok && old.version > s.version {
		return
	}
	if c.states == nil {
		c.states = make(map[string]cachedState[S])
	}
	if _, ok := c.states[streamID]; !ok && len(c.states) >= limit {
		for id := range c.states {
			delete(c.states, id)
			break
		}
	}
	c.states[streamID] = s
}
