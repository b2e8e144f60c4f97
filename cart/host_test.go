package cart

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

// testHost is estest.Host with messages numbered by position (deliver).
type testHost struct {
	*estest.Host
	pos int64
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
	h := &testHost{Host: estest.NewHost("cart", st, reg)}
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return m, h, clock
}

// deliver applies an event of another context (payload v) to the cart.
func (h *testHost) deliver(t testing.TB, typ string, v any) es.Message {
	t.Helper()
	h.pos++
	m := estest.Message(t, typ, "", v)
	m.Position = h.pos
	h.redeliver(t, m)
	return m
}

// redeliver applies m as the platform does (inbox, retry on ErrConcurrency).
func (h *testHost) redeliver(t testing.TB, m es.Message) {
	t.Helper()
	if _, err := h.Apply(context.Background(), m); err != nil {
		t.Fatalf("%s: %v", m.Type, err)
	}
}

func usdMap(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }
