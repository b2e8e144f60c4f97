package estest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"acme/es"
)

// Host is an es.Host for a context's service tests, without the platform: the
// context's store and registry as given, consumers that the test drives by
// hand (Apply, Deliver), projections recorded but not run.
//
//	h := estest.NewHost("inventory", st, reg)
//	m.Start(ctx, h)
//	h.Deliver(t, "OrderPlaced", estest.NewID(), payload) // as the platform would
type Host struct {
	name  string
	store es.Store
	reg   *es.Registry

	mu          sync.Mutex
	handlers    map[string]es.Handler // message type -> handler
	consumers   map[string]string     // message type -> consumer name
	projections []es.Projection
}

var _ es.Host = (*Host)(nil)

// MaxConcurrencyRetries bounds how often Apply re-runs a handler whose commit
// failed with es.ErrConcurrency.
const MaxConcurrencyRetries = 100

// NewHost returns a Host for the context name over its store and the registry.
func NewHost(name string, store es.Store, reg *es.Registry) *Host {
	return &Host{name: name, store: store, reg: reg,
		handlers: map[string]es.Handler{}, consumers: map[string]string{}}
}

func (h *Host) Name() string           { return h.name }
func (h *Host) Store() es.Store        { return h.store }
func (h *Host) Registry() *es.Registry { return h.reg }
func (h *Host) NewID() string          { return NewID() }

// Consume records hd as the handler of types (a later registration of a type
// replaces an earlier one).
func (h *Host) Consume(name string, types []string, hd es.Handler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range types {
		h.handlers[t], h.consumers[t] = hd, name
	}
}

// ConsumeBatch records hd as the handler of types, called with one-message
// batches (the platform falls back to that too, so each message's outcome is
// what Apply and Deliver show).
func (h *Host) ConsumeBatch(name string, types []string, hd es.BatchHandler) {
	h.Consume(name, types, func(ctx context.Context, m es.Message) (es.Commit, error) {
		return hd(ctx, []es.Message{m})
	})
}

// Project records p; the test runs it itself if it needs to (Projections).
func (h *Host) Project(p es.Projection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.projections = append(h.projections, p)
}

// Projections returns the projections registered so far, in order.
func (h *Host) Projections() []es.Projection {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]es.Projection(nil), h.projections...)
}

// Consumer returns the name of the consumer of message type typ ("" if none).
func (h *Host) Consumer(typ string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.consumers[typ]
}

// Handler returns the handler registered for message type typ (nil if none),
// for a test that runs it without storing its commit (a crash before the commit).
func (h *Host) Handler(typ string) es.Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handlers[typ]
}

// Apply applies m as the platform does: it runs the handler registered for
// m.Type and stores its commit with the inbox id "<context>.<consumer>/<m.ID>",
// running the handler again when the commit fails with es.ErrConcurrency (up
// to MaxConcurrencyRetries times). applied is false when the inbox already held
// the message (a duplicate). The handler's error is returned as is; so is a
// commit error other than a duplicate. A type without a consumer is an error.
func (h *Host) Apply(ctx context.Context, m es.Message) (applied bool, err error) {
	h.mu.Lock()
	hd, name := h.handlers[m.Type], h.consumers[m.Type]
	h.mu.Unlock()
	if hd == nil {
		return false, fmt.Errorf("estest: %s does not consume %s", h.name, m.Type)
	}
	inbox := h.name + "." + name + "/" + m.ID
	for attempt := 0; ; attempt++ {
		c, err := hd(ctx, m)
		if err != nil {
			return false, err
		}
		c.InboxID = inbox
		_, err = h.store.Commit(ctx, c)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, es.ErrDuplicate):
			return false, nil
		case errors.Is(err, es.ErrConcurrency) && attempt < MaxConcurrencyRetries:
			continue
		}
		return false, err
	}
}

// Message is the bus message of type typ (schema version 1) with id (a new one
// when empty) and data encoded as JSON; it fails t if data does not encode.
func Message(t testing.TB, typ, id string, data any) es.Message {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatalf("encode %s: %v", typ, err)
	}
	if id == "" {
		id = NewID()
	}
	return es.Message{ID: id, Type: typ, SchemaVersion: 1, Data: b}
}

// Deliver applies the message Message(t, typ, id, data) with Apply and
// reports whether it was applied (false: a duplicate); any error fails t.
func (h *Host) Deliver(t testing.TB, typ, id string, data any) bool {
	t.Helper()
	applied, err := h.Apply(context.Background(), Message(t, typ, id, data))
	if err != nil {
		t.Fatalf("deliver %s: %v", typ, err)
	}
	return applied
}
