package es_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"acme"
	"acme/es"
	"acme/sqlite"
)

type added struct {
	N int `json:"n"`
}

var Added = es.Define[added](es.MessageSpec{Name: "Added", Kind: es.KindEvent, Owner: "counter", Summary: "test event"})

// counter: Add(n) appends Added{n}; the sum may not exceed 10.
func counter(t *testing.T) *es.Aggregate[int, int] {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg, err := es.NewRegistry(Added)
	if err != nil {
		t.Fatal(err)
	}
	return &es.Aggregate[int, int]{Store: st, Registry: reg, NewID: acme.NewID, StreamType: "counter",
		Decider: es.Decider[int, int]{
			Decide: func(sum, n int) ([]any, error) {
				if sum+n > 10 {
					return nil, errors.New("over 10")
				}
				return []any{added{N: n}}, nil
			},
			Evolve: func(sum int, e any) int { return sum + e.(added).N },
		}}
}

// DecideAll decides each command on the state the previous ones left, in one
// Append expecting the version it loaded, each event with its command's metadata.
func TestDecideAllChainsCommandsIntoOneAppend(t *testing.T) {
	ctx := context.Background()
	a := counter(t)
	if _, err := a.Handle(ctx, "c1", 4); err != nil {
		t.Fatal(err)
	}
	mds := []es.Metadata{{CorrelationID: "m1"}, {CorrelationID: "m2"}, {CorrelationID: "m3"}}
	app, sum, err := a.DecideAll(ctx, "c1", []int{1, 2, 3}, mds)
	if err != nil {
		t.Fatal(err)
	}
	if sum != 10 || app.Expected != 1 || len(app.Events) != 3 {
		t.Fatalf("sum %d, expected %d, %d events; want 10, 1, 3", sum, app.Expected, len(app.Events))
	}
	for i, e := range app.Events {
		if e.Metadata.CorrelationID != mds[i].CorrelationID {
			t.Fatalf("event %d carries %q, want %q", i, e.Metadata.CorrelationID, mds[i].CorrelationID)
		}
	}
	// the third command sees 4+1+2 and would pass 10 with 4: all fail together
	if _, _, err := a.DecideAll(ctx, "c1", []int{1, 2, 4}, nil); err == nil {
		t.Fatal("a command over the limit after the others passed")
	}
}

// readCounter records the first version each ReadStream asked for.
type readCounter struct {
	es.Store
	from []int64
}

func (r *readCounter) ReadStream(ctx context.Context, id string, q es.StreamQuery) ([]es.Event, error) {
	r.from = append(r.from, q.FromVersion)
	return r.Store.ReadStream(ctx, id, q)
}

// A cached state is the start of the next load, which still sees what
// another writer appended after it; a temporal load never starts from it.
func TestCachedStatesStartLoads(t *testing.T) {
	ctx := context.Background()
	a := counter(t)
	// another process on the same store, without a cache
	other := &es.Aggregate[int, int]{Store: a.Store, Registry: a.Registry, NewID: a.NewID, StreamType: a.StreamType, Decider: a.Decider}
	reads := &readCounter{Store: a.Store}
	a.Store, a.CacheStates = reads, 2
	if _, err := a.Handle(ctx, "c1", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Handle(ctx, "c1", 2); err != nil {
		t.Fatal(err)
	}
	reads.from = nil
	l, err := a.Load(ctx, "c1", es.StreamQuery{})
	if err != nil || l.State != 3 || l.Version != 2 {
		t.Fatalf("load = %d at %d, %v; want 3 at 2", l.State, l.Version, err)
	}
	if len(reads.from) != 1 || reads.from[0] != 2 {
		t.Fatalf("the load read from versions %v; want [2] (after the cached state)", reads.from)
	}
	if l, err := a.Load(ctx, "c1", es.StreamQuery{ToVersion: 1}); err != nil || l.State != 1 {
		t.Fatalf("load to version 1 = %d, %v; want 1", l.State, err)
	}
	// more streams than the cache holds: every answer stays right
	for i := range 3 {
		for _, id := range []string{"c2", "c3", "c4"} {
			if _, err := a.Handle(ctx, id, 1); err != nil {
				t.Fatal(err)
			}
			if l, err := a.Load(ctx, id, es.StreamQuery{}); err != nil || l.State != i+1 {
				t.Fatalf("%s: load = %d, %v; want %d", id, l.State, err, i+1)
			}
		}
	}
}
