package estest_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

func TestHost(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "things.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg, err := es.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	h := estest.NewHost("things", st, reg)
	if h.Name() != "things" || h.Store() != es.Store(st) || h.Registry() != reg || h.NewID() == h.NewID() {
		t.Fatal("host accessors")
	}

	// The handler appends to "thing-1" at the version it read; on its first
	// call another writer gets in between, so the commit conflicts once.
	calls := 0
	h.Consume("ticks", []string{"Tick"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		calls++
		v, err := st.StreamVersion(ctx, "thing-1")
		if err != nil {
			return es.Commit{}, err
		}
		if calls == 1 {
			if _, err := st.Commit(ctx, es.Commit{Appends: []es.Append{{StreamID: "thing-1", StreamType: "thing", Expected: es.AnyVersion, Events: []es.Event{estest.Ev("Other", `{}`)}}}}); err != nil {
				return es.Commit{}, err
			}
		}
		return es.Commit{Appends: []es.Append{{StreamID: "thing-1", StreamType: "thing", Expected: v, Events: []es.Event{estest.Ev("Ticked", string(m.Data))}}}}, nil
	})
	boom := errors.New("boom")
	h.Consume("fails", []string{"Fail"}, func(context.Context, es.Message) (es.Commit, error) { return es.Commit{}, boom })
	h.Project(es.Projection{Name: "things.list"})

	if h.Handler("Fail") == nil || h.Handler("Nope") != nil {
		t.Fatal("Handler")
	}
	if h.Consumer("Tick") != "ticks" || h.Consumer("Nope") != "" {
		t.Fatalf("Consumer: %q, %q", h.Consumer("Tick"), h.Consumer("Nope"))
	}
	if p := h.Projections(); len(p) != 1 || p[0].Name != "things.list" {
		t.Fatalf("Projections = %+v", p)
	}

	id := estest.NewID()
	if !h.Deliver(t, "Tick", id, map[string]int{"n": 1}) {
		t.Fatal("first delivery not applied")
	}
	if calls != 2 {
		t.Fatalf("handler ran %d times, want 2 (one retry after the conflict)", calls)
	}
	if v, _ := st.StreamVersion(ctx, "thing-1"); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	if h.Deliver(t, "Tick", id, map[string]int{"n": 1}) {
		t.Fatal("redelivery applied")
	}
	if v, _ := st.StreamVersion(ctx, "thing-1"); v != 2 {
		t.Fatalf("redelivery appended: version %d", v)
	}
	// The inbox id is the platform's "<context>.<consumer>/<message id>".
	if _, err := st.Commit(ctx, es.Commit{InboxID: "things.ticks/" + id}); !errors.Is(err, es.ErrDuplicate) {
		t.Fatalf("inbox id not recorded as things.ticks/<id>: %v", err)
	}

	if _, err := h.Apply(ctx, estest.Message(t, "Fail", "", nil)); !errors.Is(err, boom) {
		t.Fatalf("handler error = %v, want boom", err)
	}
	if _, err := h.Apply(ctx, estest.Message(t, "Nope", "", nil)); err == nil {
		t.Fatal("a type without a consumer applied")
	}
	if m := estest.Message(t, "Tick", "", struct{ A int }{7}); m.ID == "" || m.SchemaVersion != 1 || string(m.Data) != `{"A":7}` {
		t.Fatalf("Message = %+v", m)
	}
}
