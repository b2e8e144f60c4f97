package cart

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/sqlite"
)

// testHost is an es.Host over a SQLite store whose consumers the test drives
// by hand (deliver applies a message as the platform does).
type testHost struct {
	store    es.Store
	reg      *es.Registry
	handlers map[string]es.Handler
	names    map[string]string
	pos      int64
}

func (h *testHost) Name() string           { return "cart" }
func (h *testHost) Store() es.Store        { return h.store }
func (h *testHost) Registry() *es.Registry { return h.reg }
func (h *testHost) NewID() string          { return acme.NewID() }
func (h *testHost) Project(es.Projection)  {}
func (h *testHost) Consume(name string, types []string, hd es.Handler) {
	for _, t := range types {
		h.handlers[t], h.names[t] = hd, name
	}
}

type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time { return c.t }

func startCart(t testing.TB) (*Module, *testHost, *testClock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cart.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clock := &testClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	m := New(clock)
	reg, err := es.NewRegistry(m.Messages()...)
	if err != nil {
		t.Fatal(err)
	}
	h := &testHost{store: st, reg: reg, handlers: map[string]es.Handler{}, names: map[string]string{}}
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return m, h, clock
}

// deliver applies an event of another context (payload v) to the cart.
func (h *testHost) deliver(t testing.TB, typ string, v any) es.Message {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	h.pos++
	m := es.Message{ID: acme.NewID(), Type: typ, SchemaVersion: 1, Data: data, Position: h.pos}
	h.redeliver(t, m)
	return m
}

func (h *testHost) redeliver(t testing.TB, m es.Message) {
	t.Helper()
	hd, ok := h.handlers[m.Type]
	if !ok {
		t.Fatalf("the cart does not consume %s", m.Type)
	}
	for attempt := 0; ; attempt++ {
		c, err := hd(context.Background(), m)
		if err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		c.InboxID = "cart." + h.names[m.Type] + "/" + m.ID
		_, err = h.store.Commit(context.Background(), c)
		if errors.Is(err, es.ErrConcurrency) && attempt < 5 {
			continue
		}
		if err != nil && !errors.Is(err, es.ErrDuplicate) {
			t.Fatalf("%s: commit: %v", m.Type, err)
		}
		return
	}
}

func usdMap(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }
