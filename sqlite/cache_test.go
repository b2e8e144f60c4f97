package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"acme/es"
	"acme/es/estest"
)

// uncached runs f with the store's caches off: its reads go to SQL.
func uncached[T any](s *Store, f func() T) T {
	tail, streams := s.tail, s.streams
	s.tail, s.streams = nil, nil
	defer func() { s.tail, s.streams = tail, streams }()
	return f()
}

func openExclusive(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, WithExclusive())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ReadAll and ReadStream answer from what this store just committed exactly
// what the file holds, for every filter.
func TestCachedReadsAreTheLog(t *testing.T) {
	s := openExclusive(t, filepath.Join(t.TempDir(), "c.db"))
	md := es.Metadata{CorrelationID: "corr-1", CausationID: "cause-1", Actor: "admin", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	var times []time.Time
	for i := range 6 {
		e := estest.Ev("T", fmt.Sprintf(`{"i":%d,"s":"é\n"}`, i))
		e.Metadata, e.SchemaVersion = md, 2
		res, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{
			{StreamID: "s", StreamType: "t", Expected: es.AnyVersion, Events: []es.Event{e}},
			{StreamID: fmt.Sprint("o", i%2), StreamType: "t", Expected: es.AnyVersion, Events: []es.Event{estest.Ev("U", `{}`)}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, res.Events[0].RecordedAt)
		time.Sleep(time.Millisecond) // distinct recorded_at for the AsOf filter
	}
	type answer struct {
		evs []es.Event
		err error
	}
	for after := int64(0); after <= 12; after++ {
		for _, limit := range []int{1, 3, 100} {
			got, err := s.ReadAll(t.Context(), after, limit)
			want := uncached(s, func() answer { e, err := s.ReadAll(t.Context(), after, limit); return answer{e, err} })
			if err != nil || want.err != nil || !reflect.DeepEqual(got, want.evs) {
				t.Fatalf("ReadAll(%d, %d):\n got %+v %v\nwant %+v %v", after, limit, got, err, want.evs, want.err)
			}
		}
	}
	hits := 0
	for _, q := range []es.StreamQuery{{}, {FromVersion: 1}, {FromVersion: 3}, {FromVersion: 7}, {ToVersion: 2}, {FromVersion: 2, ToVersion: 4},
		{AsOf: times[2]}, {AsOf: times[0].Add(-time.Second)}, {FromVersion: 4, AsOf: times[4]}} {
		if _, ok := s.streams.read("s", q.FromVersion, max(q.ToVersion, 0), 1<<62); ok {
			hits++
		}
		got, err := s.ReadStream(t.Context(), "s", q)
		want := uncached(s, func() answer { e, err := s.ReadStream(t.Context(), "s", q); return answer{e, err} })
		if err != nil || want.err != nil || !reflect.DeepEqual(got, want.evs) {
			t.Fatalf("ReadStream %+v:\n got %+v %v\nwant %+v %v", q, got, err, want.evs, want.err)
		}
	}
	if hits == 0 {
		t.Fatal("the stream cache answered nothing")
	}
}

// While a transaction commits, reads of its streams go to SQL; a commit that
// fails leaves the cache as it was.
func TestStreamCacheHolds(t *testing.T) {
	c := newStreamCache()
	ev := func(stream string, v int64) es.Event {
		return es.Event{StreamID: stream, Version: v, Data: []byte(`{}`)}
	}
	c.add([]es.Event{ev("a", 1), ev("a", 2)})
	if got, ok := c.read("a", 0, 1<<62, 1<<62); !ok || len(got) != 2 {
		t.Fatalf("cached: %v %v", got, ok)
	}
	tx := []es.Event{ev("a", 3), ev("b", 1), ev("a", 4)}
	c.hold(tx)
	if _, ok := c.read("a", 0, 1<<62, 1<<62); ok {
		t.Fatal("a stream being committed was answered from the cache")
	}
	c.unhold(tx) // the COMMIT failed
	if got, ok := c.read("a", 0, 1<<62, 1<<62); !ok || len(got) != 2 {
		t.Fatalf("after a failed commit: %v %v", got, ok)
	}
	c.hold(tx)
	c.add(tx)
	if got, ok := c.read("a", 0, 1<<62, 1<<62); !ok || len(got) != 4 {
		t.Fatalf("after the commit: %v %v", got, ok)
	}
	if got, ok := c.read("b", 1, 1<<62, 1<<62); !ok || len(got) != 1 {
		t.Fatalf("a new stream: %v %v", got, ok)
	}
	if _, ok := c.read("a", 0, 1<<62, 1<<62); !ok || c.streams["a"].held != 0 {
		t.Fatalf("hold not lifted: %d", c.streams["a"].held)
	}
	// A gap (cannot happen with one writer) drops the stream.
	c.add([]es.Event{ev("a", 9)})
	if _, ok := c.read("a", 0, 1<<62, 1<<62); ok {
		t.Fatal("a stream with a gap answered")
	}
	// Bounded: a stream longer than streamCacheEvents is dropped.
	for v := int64(1); v <= streamCacheEvents+1; v++ {
		c.add([]es.Event{ev("long", v)})
	}
	if _, ok := c.read("long", 0, 1<<62, 1<<62); ok {
		t.Fatal("a stream past the bound answered")
	}
}

// An exclusive store has the file to itself: another open of it fails, and
// works again once the store is closed; shared opens share.
func TestExclusiveOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	a, err := Open(t.Context(), path, WithExclusive())
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]Option{nil, {WithExclusive()}} {
		if _, err := Open(t.Context(), path, opts...); !errors.Is(err, ErrInUse) {
			t.Fatalf("open %v beside an exclusive store: %v", opts, err)
		}
	}
	a.Close()
	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("two shared opens: %v", err)
	}
	defer c.Close()
	if _, err := Open(t.Context(), path, WithExclusive()); !errors.Is(err, ErrInUse) {
		t.Fatalf("exclusive open beside shared ones: %v", err)
	}
	if b.tail != nil || b.streams != nil {
		t.Fatal("a shared store caches its reads")
	}
}
