package ordering

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"acme/es"
)

// streamID is the stream of one order.
func streamID(orderID string) string { return "order-" + orderID }

// outboxStream carries the commands an order sends to other contexts.
func outboxStream(orderID string) string { return "order-" + orderID + ".outbox" }

// decided is the result of running one command on an order without storing it.
type decided struct {
	Commit  es.Commit
	Before  Order
	State   Order
	Version int64 // the stream's version after the commit
	Changed bool
}

// decide loads the order, runs cmd and builds the Commit that stores its events,
// the commands they send (outbox) and the inline read model, atomically.
func (m *Module) decide(ctx context.Context, orderID string, cmd any) (decided, error) {
	sid := streamID(orderID)
	cur, err := m.orders.Load(ctx, sid, es.StreamQuery{})
	if err != nil {
		return decided{}, err
	}
	vals, err := decide(cur.State, cmd)
	if err != nil {
		return decided{State: cur.State, Version: cur.Version}, err
	}
	d := decided{Before: cur.State, State: cur.State, Version: cur.Version}
	if len(vals) == 0 {
		return d, nil
	}
	md := es.MetadataFrom(ctx)
	app := es.Append{StreamID: sid, StreamType: "order", Expected: cur.Version}
	for _, v := range vals {
		e, err := m.h.Registry().Encode(m.h.NewID(), v, md)
		if err != nil {
			return decided{}, err
		}
		app.Events = append(app.Events, e)
		d.State = evolve(d.State, v)
	}
	d.Version = cur.Version + int64(len(vals))
	d.Changed = true
	d.Commit.Appends = []es.Append{app}
	if cmds := Commands(cur.State, vals); len(cmds) > 0 {
		out := es.Append{StreamID: outboxStream(orderID), StreamType: "order.outbox", Expected: es.AnyVersion}
		for _, c := range cmds {
			b, err := json.Marshal(c.Data)
			if err != nil {
				return decided{}, fmt.Errorf("ordering: encode %s: %w", c.Type, err)
			}
			out.Events = append(out.Events, es.Event{ID: m.h.NewID(), Type: c.Type, SchemaVersion: 1, Data: b, Metadata: md})
		}
		d.Commit.Appends = append(d.Commit.Appends, out)
	}
	st, version := d.State, d.Version
	d.Commit.Apply = func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		return upsertOrder(ctx, tx, st, version)
	}
	return d, nil
}

// Result is the outcome of a command run through the HTTP use cases.
type Result struct {
	Order    Order
	Version  int64
	Position int64 // the log position of the commit (0 when nothing changed)
}

// Execute runs cmd on order orderID and stores the outcome, retrying a bounded
// number of times when another writer won the race.
func (m *Module) Execute(ctx context.Context, orderID string, cmd any) (Result, error) {
	var out Result
	err := es.RetryConflicts(ctx, es.ConflictRetries, func() error {
		d, err := m.decide(ctx, orderID, cmd)
		if err != nil || !d.Changed {
			out = Result{Order: d.State, Version: d.Version}
			return err
		}
		res, err := m.h.Store().Commit(ctx, d.Commit)
		if err != nil {
			out = Result{}
			return err
		}
		out = Result{Order: d.State, Version: d.Version, Position: res.Position}
		return nil
	})
	return out, err
}

// Load returns the order as of q (q zero: now). Version 0 means it did not exist.
func (m *Module) Load(ctx context.Context, orderID string, q es.StreamQuery) (es.Loaded[Order], error) {
	return m.orders.Load(ctx, streamID(orderID), q)
}

// consumer turns a decided command into a consumer's Commit. A rule the message
// breaks (an *acme.Error: unknown order, a transition no longer possible) is
// acknowledged without effect: the sender's saga owns the recovery.
func (m *Module) consume(ctx context.Context, orderID string, cmd any) (es.Commit, error) {
	d, err := m.decide(ctx, orderID, cmd)
	if err != nil {
		if isClientError(err) {
			slog.InfoContext(ctx, "ordering: message ignored", "order", orderID, "command", fmt.Sprintf("%T", cmd), "err", err)
			return es.Commit{}, nil
		}
		return es.Commit{}, err
	}
	return d.Commit, nil
}

func (m *Module) now() time.Time { return m.clock.Now().UTC() }
