package estest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"acme/es"
)

func testExpectedVersion(t *testing.T, s es.Store) {
	const st = "thing-expected"
	e1 := Ev("Created", `{"n":1}`)
	res := appendOK(t, s, st, es.NoStream, e1)
	if len(res.Events) != 1 {
		t.Fatalf("result has %d events, want 1", len(res.Events))
	}
	got := res.Events[0]
	if got.ID != e1.ID || got.StreamID != st || got.StreamType != "thing" || got.Version != 1 || got.Position < 1 || got.RecordedAt.IsZero() {
		t.Fatalf("stored event not filled in: %+v", got)
	}
	if res.Position != got.Position {
		t.Fatalf("result position %d, want the last event's %d", res.Position, got.Position)
	}
	h := head(t, s)
	for _, tc := range []struct {
		name     string
		expected int64
	}{{"NoStream on an existing stream", es.NoStream}, {"a version ahead", 2}, {"far ahead", 42}} {
		_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app(st, tc.expected, Ev("Changed", `{}`))}})
		wantErr(t, tc.name, err, es.ErrConcurrency)
		unchanged(t, s, tc.name, h, map[string]int64{st: 1})
	}
	appendOK(t, s, st, 1, Ev("Changed", `{"n":2}`))
	_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app(st, 1, Ev("Changed", `{}`))}})
	wantErr(t, "stale version", err, es.ErrConcurrency)
	res = appendOK(t, s, st, es.AnyVersion, Ev("Changed", `{"n":3}`), Ev("Changed", `{"n":4}`))
	if res.Events[0].Version != 3 || res.Events[1].Version != 4 {
		t.Fatalf("AnyVersion append got versions %d, %d, want 3, 4", res.Events[0].Version, res.Events[1].Version)
	}
	if v := streamVersion(t, s, st); v != 4 {
		t.Fatalf("version %d, want 4", v)
	}
	if _, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app("thing-new", 3, Ev("Created", `{}`))}}); !errors.Is(err, es.ErrConcurrency) {
		t.Fatalf("exact version on a missing stream: %v, want ErrConcurrency", err)
	}
}

// testConcurrentNoStream: many creators race for one stream; exactly one wins.
func testConcurrentNoStream(t *testing.T, s es.Store) {
	const n = 16
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app("thing-race", es.NoStream, Ev("Created", fmt.Sprintf(`{"by":%d}`, i)))}})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, es.ErrConcurrency):
				conflicts.Add(1)
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error (want nil or ErrConcurrency): %v", err)
	}
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d wins and %d conflicts, want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
	if v := streamVersion(t, s, "thing-race"); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
}

// testConcurrentExactVersion: writers read the version and append with it,
// retrying on ErrConcurrency; every version is won by exactly one append.
func testConcurrentExactVersion(t *testing.T, s es.Store) {
	const writers, each = 8, 15
	const st = "thing-contended"
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]int64{} // event id -> version it got
	var conflicts atomic.Int32
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < each; {
				v, err := s.StreamVersion(t.Context(), st)
				if err != nil {
					errs <- err
					return
				}
				e := Ev("Bumped", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				res, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app(st, v, e)}})
				if errors.Is(err, es.ErrConcurrency) {
					conflicts.Add(1)
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if res.Events[0].Version != v+1 {
					errs <- fmt.Errorf("expected %d, stored at version %d", v, res.Events[0].Version)
				}
				mu.Lock()
				won[e.ID] = res.Events[0].Version
				mu.Unlock()
				i++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	evs := readStream(t, s, st, es.StreamQuery{})
	if len(evs) != writers*each {
		t.Fatalf("stream has %d events, want %d", len(evs), writers*each)
	}
	for i, e := range evs {
		if e.Version != int64(i+1) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
		if v, ok := won[e.ID]; !ok || v != e.Version {
			t.Fatalf("event %s at version %d: the writer was told %d (ok=%v)", e.ID, e.Version, v, ok)
		}
	}
	t.Logf("%d conflicts", conflicts.Load())
}

func testMultiStreamAtomic(t *testing.T, s es.Store) {
	a, b := Ev("A", `{"a":1}`), Ev("B", `{"b":1}`)
	res := commit(t, s, es.Commit{Appends: []es.Append{app("thing-a", es.NoStream, a), app("thing-b", es.NoStream, b)}})
	if len(res.Events) != 2 || res.Events[0].ID != a.ID || res.Events[1].ID != b.ID {
		t.Fatalf("result events %+v", res.Events)
	}
	if res.Events[1].Position != res.Events[0].Position+1 || res.Position != res.Events[1].Position {
		t.Fatalf("positions %d, %d (result %d): want consecutive", res.Events[0].Position, res.Events[1].Position, res.Position)
	}
	h := head(t, s)
	// The second append fails: the first must not be stored either.
	_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{
		app("thing-a", 1, Ev("A2", `{}`)),
		app("thing-c", es.NoStream, Ev("C", `{}`)),
		app("thing-b", es.NoStream, Ev("B2", `{}`)),
	}})
	wantErr(t, "second append conflicts", err, es.ErrConcurrency)
	unchanged(t, s, "failed multi-stream commit", h, map[string]int64{"thing-a": 1, "thing-b": 1, "thing-c": 0})
	if evs := readStream(t, s, "thing-c", es.StreamQuery{}); len(evs) != 0 {
		t.Fatalf("thing-c has %d events after a failed commit", len(evs))
	}
}

func testSameStreamTwice(t *testing.T, s es.Store) {
	res := commit(t, s, es.Commit{Appends: []es.Append{
		app("thing-twice", es.NoStream, Ev("A", `{}`)),
		app("thing-twice", 1, Ev("B", `{}`), Ev("C", `{}`)),
	}})
	for i, e := range res.Events {
		if e.Version != int64(i+1) {
			t.Fatalf("event %d version %d", i, e.Version)
		}
	}
	if v := streamVersion(t, s, "thing-twice"); v != 3 {
		t.Fatalf("version %d, want 3", v)
	}
}

func testEmptyAppend(t *testing.T, s es.Store) {
	appendOK(t, s, "thing-e", es.NoStream, Ev("A", `{}`))
	h := head(t, s)
	// An append without events checks the version and stores nothing.
	_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app("thing-e", 0), app("thing-f", es.NoStream, Ev("F", `{}`))}})
	wantErr(t, "empty append with a stale version", err, es.ErrConcurrency)
	unchanged(t, s, "empty append", h, map[string]int64{"thing-e": 1, "thing-f": 0})
	res := commit(t, s, es.Commit{Appends: []es.Append{app("thing-e", 1), app("thing-f", es.NoStream, Ev("F", `{}`))}})
	if len(res.Events) != 1 || res.Events[0].StreamID != "thing-f" {
		t.Fatalf("result %+v", res.Events)
	}
}

func testInbox(t *testing.T, s es.Store) {
	res := commit(t, s, es.Commit{InboxID: "consumer/msg-1", Appends: []es.Append{app("thing-i", es.NoStream, Ev("A", `{}`))}})
	h := head(t, s)
	if h != res.Position {
		t.Fatalf("head %d, result position %d", h, res.Position)
	}
	_, err := s.Commit(t.Context(), es.Commit{InboxID: "consumer/msg-1", Appends: []es.Append{app("thing-j", es.AnyVersion, Ev("B", `{}`))}})
	wantErr(t, "same inbox id", err, es.ErrDuplicate)
	unchanged(t, s, "duplicate inbox id", h, map[string]int64{"thing-j": 0})
	// The inbox id is recorded even by a commit without events, and not by a failed one.
	commit(t, s, es.Commit{InboxID: "consumer/msg-2"})
	_, err = s.Commit(t.Context(), es.Commit{InboxID: "consumer/msg-2"})
	wantErr(t, "same inbox id, no events", err, es.ErrDuplicate)
	_, err = s.Commit(t.Context(), es.Commit{InboxID: "consumer/msg-3", Appends: []es.Append{app("thing-i", es.NoStream, Ev("X", `{}`))}})
	wantErr(t, "failing commit", err, es.ErrConcurrency)
	commit(t, s, es.Commit{InboxID: "consumer/msg-3", Appends: []es.Append{app("thing-i", 1, Ev("X", `{}`))}})
	// Concurrent deliveries of one message: exactly one is applied.
	var wins, dups atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := s.Commit(t.Context(), es.Commit{InboxID: "consumer/msg-4", Appends: []es.Append{app("thing-k", es.AnyVersion, Ev("K", `{}`))}})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, es.ErrDuplicate):
				dups.Add(1)
			default:
				t.Errorf("concurrent delivery: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || dups.Load() != 7 || streamVersion(t, s, "thing-k") != 1 {
		t.Fatalf("%d applied, %d duplicates, thing-k at %d: want 1, 7, 1", wins.Load(), dups.Load(), streamVersion(t, s, "thing-k"))
	}
}

// testInboxBatch: a commit applying several messages records every inbox id;
// it is a duplicate, storing nothing, when any one of them was seen before.
func testInboxBatch(t *testing.T, s es.Store) {
	commit(t, s, es.Commit{InboxIDs: []string{"batch/m1", "batch/m2"}, Appends: []es.Append{app("thing-bi", es.NoStream, Ev("A", `{}`))}})
	h := head(t, s)
	for _, tc := range []struct {
		name string
		c    es.Commit
	}{
		{"one id seen", es.Commit{InboxIDs: []string{"batch/m3", "batch/m2"}}},
		{"InboxID seen", es.Commit{InboxID: "batch/m1", InboxIDs: []string{"batch/m4"}}},
		{"one id twice", es.Commit{InboxIDs: []string{"batch/m5", "batch/m5"}}},
	} {
		tc.c.Appends = []es.Append{app("thing-bj", es.AnyVersion, Ev("B", `{}`))}
		_, err := s.Commit(t.Context(), tc.c)
		wantErr(t, tc.name, err, es.ErrDuplicate)
		unchanged(t, s, tc.name, h, map[string]int64{"thing-bj": 0})
	}
	// None of the failed commits' new ids was recorded.
	commit(t, s, es.Commit{InboxID: "batch/m3", InboxIDs: []string{"batch/m4", "batch/m5"}})
	for _, id := range []string{"batch/m1", "batch/m2", "batch/m3", "batch/m4", "batch/m5"} {
		_, err := s.Commit(t.Context(), es.Commit{InboxID: id})
		wantErr(t, "recorded "+id, err, es.ErrDuplicate)
	}
}

// readModel is the migration the Apply tests use: portable SQL.
var readModel = fstest.MapFS{
	"00001_items.sql": {Data: []byte(`-- +goose Up
CREATE TABLE estest_items (
    id TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    position BIGINT NOT NULL
);
-- +goose Down
DROP TABLE estest_items;
`)},
}

func insertItems(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, e := range events {
		if e.Position == 0 || e.Version == 0 || e.RecordedAt.IsZero() {
			return fmt.Errorf("Apply got an event not filled in: %+v", e)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO estest_items (id, stream_id, version, position) VALUES ($1, $2, $3, $4)`,
			e.ID, e.StreamID, e.Version, e.Position); err != nil {
			return err
		}
	}
	return nil
}

func countItems(t *testing.T, s es.Store, where string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM estest_items `+where, args...).Scan(&n); err != nil {
		t.Fatalf("count items: %v", err)
	}
	return n
}

func testApply(t *testing.T, s es.Store) {
	if err := s.Migrate(t.Context(), "estest", readModel); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	e1, e2 := Ev("A", `{}`), Ev("B", `{}`)
	var inside []es.Event
	res := commit(t, s, es.Commit{
		Appends: []es.Append{app("thing-p", es.NoStream, e1, e2)},
		Apply: func(ctx context.Context, tx es.SQL, events []es.Event) error {
			inside = events
			if err := insertItems(ctx, tx, events); err != nil {
				return err
			}
			// The transaction sees its own writes.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM estest_items WHERE stream_id = $1`, "thing-p").Scan(&n); err != nil || n != 2 {
				return fmt.Errorf("inside Apply: %d rows, %v", n, err)
			}
			return nil
		},
	})
	sameEvents(t, "events given to Apply", inside, res.Events)
	var pos int64
	if err := s.DB().QueryRowContext(t.Context(), `SELECT position FROM estest_items WHERE id = $1`, e2.ID).Scan(&pos); err != nil {
		t.Fatalf("read model row: %v", err)
	}
	if pos != res.Events[1].Position {
		t.Fatalf("read model has position %d, want %d", pos, res.Events[1].Position)
	}
	// A commit that only applies (no events) is fine too.
	commit(t, s, es.Commit{Apply: func(ctx context.Context, tx es.SQL, events []es.Event) error {
		if len(events) != 0 {
			return fmt.Errorf("%d events", len(events))
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO estest_items (id, stream_id, version, position) VALUES ($1, $2, $3, $4)`, "x", "none", 1, 1)
		return err
	}})
	if n := countItems(t, s, ""); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
}

var errApply = errors.New("estest: apply refused")

// testCommitted: Committed runs once, after the commit is visible to other
// readers (a waiter it wakes must find the rows), and never for a commit that
// failed; joined commits run theirs in order.
func testCommitted(t *testing.T, s es.Store) {
	if err := s.Migrate(t.Context(), "estest", readModel); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	var calls []string
	seen := func(name, stream string) func() {
		return func() {
			// Read outside the transaction, as a woken waiter would.
			calls = append(calls, fmt.Sprintf("%s:%d", name, countItems(t, s, "WHERE stream_id = $1", stream)))
		}
	}
	commit(t, s, es.Commit{InboxID: "c/1", Appends: []es.Append{app("thing-c", es.NoStream, Ev("A", `{}`))},
		Apply: insertItems, Committed: seen("first", "thing-c")})
	if want := []string{"first:1"}; !slices.Equal(calls, want) {
		t.Fatalf("after a commit: calls %v, want %v (once, with its row visible)", calls, want)
	}

	calls = nil
	failing := []es.Commit{
		{Appends: []es.Append{app("thing-c", es.NoStream, Ev("B", `{}`))}, Committed: seen("concurrency", "")},
		{InboxID: "c/1", Appends: []es.Append{app("thing-d", es.NoStream, Ev("B", `{}`))}, Committed: seen("duplicate", "")},
		{Appends: []es.Append{app("thing-e", es.NoStream, Ev("B", `{}`))}, Committed: seen("apply", ""),
			Apply: func(context.Context, es.SQL, []es.Event) error { return errApply }},
	}
	for _, c := range failing {
		if _, err := s.Commit(t.Context(), c); err == nil {
			t.Fatalf("commit %+v: no error", c.Appends)
		}
	}
	if len(calls) != 0 {
		t.Fatalf("failed commits called Committed: %v", calls)
	}

	joined := es.Join(
		es.Commit{Appends: []es.Append{app("thing-f", es.NoStream, Ev("A", `{}`))}, Committed: seen("f", "thing-f")},
		es.Commit{Appends: []es.Append{app("thing-g", es.NoStream, Ev("A", `{}`))}, Committed: seen("g", "thing-g")},
	)
	joined.Apply = insertItems
	commit(t, s, joined)
	if want := []string{"f:1", "g:1"}; !slices.Equal(calls, want) {
		t.Fatalf("joined commit: calls %v, want %v", calls, want)
	}
}

func testApplyError(t *testing.T, s es.Store) {
	if err := s.Migrate(t.Context(), "estest", readModel); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	appendOK(t, s, "thing-q", es.NoStream, Ev("A", `{}`))
	h := head(t, s)
	_, err := s.Commit(t.Context(), es.Commit{
		InboxID: "c/1",
		Appends: []es.Append{app("thing-q", 1, Ev("B", `{}`)), app("thing-r", es.NoStream, Ev("C", `{}`))},
		Apply: func(ctx context.Context, tx es.SQL, events []es.Event) error {
			if err := insertItems(ctx, tx, events); err != nil {
				return err
			}
			return fmt.Errorf("wrapped: %w", errApply)
		},
	})
	wantErr(t, "Apply error", err, errApply)
	unchanged(t, s, "Apply error", h, map[string]int64{"thing-q": 1, "thing-r": 0})
	if n := countItems(t, s, ""); n != 0 {
		t.Fatalf("%d read-model rows written by a failed Apply are visible", n)
	}
	// The inbox id of the failed commit was not recorded.
	commit(t, s, es.Commit{InboxID: "c/1"})
	// A failing SQL statement inside Apply fails the commit the same way.
	_, err = s.Commit(t.Context(), es.Commit{
		Appends: []es.Append{app("thing-q", 1, Ev("B", `{}`))},
		Apply: func(ctx context.Context, tx es.SQL, events []es.Event) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO no_such_table (x) VALUES ($1)`, 1)
			return err
		},
	})
	if err == nil {
		t.Fatal("Apply with a failing statement: no error")
	}
	unchanged(t, s, "failing statement in Apply", h, map[string]int64{"thing-q": 1})
	appendOK(t, s, "thing-q", 1, Ev("B", `{}`))
}

// testGroupCommitIsolation: concurrent commits, some failing in each possible
// way; a failure must not take the others down, nor leave anything behind.
func testGroupCommitIsolation(t *testing.T, s es.Store) {
	if err := s.Migrate(t.Context(), "estest", readModel); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	appendOK(t, s, "thing-taken", es.NoStream, Ev("A", `{}`))
	commit(t, s, es.Commit{InboxID: "seen"})
	h0 := head(t, s)
	const n = 64
	type outcome struct {
		kind int
		id   string
		err  error
		res  es.Result
	}
	out := make([]outcome, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			e := Ev("G", fmt.Sprintf(`{"i":%d}`, i))
			c := es.Commit{Appends: []es.Append{app(fmt.Sprintf("thing-g%d", i), es.NoStream, e, Ev("G", `{}`))}, Apply: insertItems}
			kind := i % 4
			switch kind {
			case 1: // lost race
				c.Appends = append(c.Appends, app("thing-taken", es.NoStream, Ev("X", `{}`)))
			case 2: // duplicate message
				c.InboxID = "seen"
			case 3: // Apply error after writing
				c.Apply = func(ctx context.Context, tx es.SQL, events []es.Event) error {
					if err := insertItems(ctx, tx, events); err != nil {
						return err
					}
					return errApply
				}
			}
			res, err := s.Commit(t.Context(), c)
			out[i] = outcome{kind, e.ID, err, res}
		})
	}
	close(start)
	wg.Wait()
	var stored int64
	for i, o := range out {
		want := []error{nil, es.ErrConcurrency, es.ErrDuplicate, errApply}[o.kind]
		if (want == nil) != (o.err == nil) || want != nil && !errors.Is(o.err, want) {
			t.Errorf("commit %d: error %v, want %v", i, o.err, want)
			continue
		}
		v := streamVersion(t, s, fmt.Sprintf("thing-g%d", i))
		if want == nil {
			stored += 2
			if v != 2 || countItems(t, s, "WHERE id = $1", o.id) != 1 {
				t.Errorf("commit %d succeeded but its stream is at %d or its row is missing", i, v)
			}
		} else if v != 0 || countItems(t, s, "WHERE id = $1", o.id) != 0 {
			t.Errorf("commit %d failed but left its stream at %d or its row behind", i, v)
		}
	}
	if h := head(t, s); h != h0+stored {
		t.Fatalf("head %d, want %d", h, h0+stored)
	}
	all := readAll(t, s, h0)
	for i, e := range all {
		if e.Position != h0+int64(i)+1 {
			t.Fatalf("position %d at index %d: gap after failed commits", e.Position, i)
		}
	}
}

func testIdempotentAppend(t *testing.T, s es.Store) {
	e1, e2 := Ev("A", `{"x": 1}`), Ev("B", `{"y":[1,2]}`)
	e1.Metadata = es.Metadata{CorrelationID: "corr"}
	first := appendOK(t, s, "thing-idem", es.NoStream, e1, e2)
	other := appendOK(t, s, "thing-other", es.NoStream, Ev("O", `{}`))
	h := head(t, s)
	// Same ids, same content: a no-op returning the originals, whatever Expected says.
	for _, expected := range []int64{es.NoStream, es.AnyVersion, 2, 7} {
		again, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app("thing-idem", expected, e1, e2)}})
		if err != nil {
			t.Fatalf("re-append (expected %d): %v", expected, err)
		}
		sameEvents(t, fmt.Sprintf("re-append (expected %d)", expected), again.Events, first.Events)
		if again.Position < other.Position {
			t.Fatalf("re-append result position %d is before the head %d", again.Position, other.Position)
		}
		unchanged(t, s, "re-append", h, map[string]int64{"thing-idem": 2})
	}
	// A retried multi-stream commit is idempotent too.
	m1, m2 := Ev("M", `{}`), Ev("N", `{}`)
	c := es.Commit{Appends: []es.Append{app("thing-m1", es.NoStream, m1), app("thing-m2", es.NoStream, m2)}}
	r1 := commit(t, s, c)
	r2 := commit(t, s, c)
	sameEvents(t, "multi-stream retry", r2.Events, r1.Events)
}

func testEventIDConflict(t *testing.T, s es.Store) {
	e1 := Ev("A", `{"x":1}`)
	appendOK(t, s, "thing-c", es.NoStream, e1)
	h := head(t, s)
	for _, tc := range []struct {
		name   string
		stream string
		e      es.Event
	}{
		{"other data", "thing-c", es.Event{ID: e1.ID, Type: "A", SchemaVersion: 1, Data: json.RawMessage(`{"x":2}`)}},
		{"other type", "thing-c", es.Event{ID: e1.ID, Type: "B", SchemaVersion: 1, Data: e1.Data}},
		{"other stream", "thing-d", e1},
	} {
		_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app(tc.stream, es.AnyVersion, tc.e)}})
		wantErr(t, tc.name, err, es.ErrEventIDConflict)
		unchanged(t, s, tc.name, h, map[string]int64{"thing-c": 1, "thing-d": 0})
	}
	// One known id among new ones is a conflict, not a partial no-op.
	_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app("thing-c", es.AnyVersion, Ev("N", `{}`), e1)}})
	wantErr(t, "known id among new ones", err, es.ErrEventIDConflict)
	unchanged(t, s, "known id among new ones", h, map[string]int64{"thing-c": 1})
}

func testReadStream(t *testing.T, s es.Store) {
	var want []es.Event
	for i := range 10 {
		res := appendOK(t, s, "thing-r", es.AnyVersion, Ev("E", fmt.Sprintf(`{"i":%d}`, i)))
		want = append(want, res.Events...)
		appendOK(t, s, "thing-noise", es.AnyVersion, Ev("Noise", `{}`))
	}
	sameEvents(t, "whole stream", readStream(t, s, "thing-r", es.StreamQuery{}), want)
	sameEvents(t, "from 1", readStream(t, s, "thing-r", es.StreamQuery{FromVersion: 1}), want)
	sameEvents(t, "from 4", readStream(t, s, "thing-r", es.StreamQuery{FromVersion: 4}), want[3:])
	sameEvents(t, "to 6", readStream(t, s, "thing-r", es.StreamQuery{ToVersion: 6}), want[:6])
	sameEvents(t, "4..6", readStream(t, s, "thing-r", es.StreamQuery{FromVersion: 4, ToVersion: 6}), want[3:6])
	sameEvents(t, "from 11", readStream(t, s, "thing-r", es.StreamQuery{FromVersion: 11}), nil)
	sameEvents(t, "missing stream", readStream(t, s, "thing-missing", es.StreamQuery{}), nil)
}

func testReadStreamAsOf(t *testing.T, s es.Store) {
	e1 := appendOK(t, s, "thing-t", es.NoStream, Ev("A", `{}`)).Events[0]
	// Separate the two commits' clocks (timestamps have microsecond precision).
	for time.Since(e1.RecordedAt) < 2*time.Millisecond {
		time.Sleep(time.Millisecond)
	}
	e2 := appendOK(t, s, "thing-t", 1, Ev("B", `{}`)).Events[0]
	if !e2.RecordedAt.After(e1.RecordedAt) {
		t.Fatalf("second event recorded at %v, not after the first (%v)", e2.RecordedAt, e1.RecordedAt)
	}
	sameEvents(t, "as of the first", readStream(t, s, "thing-t", es.StreamQuery{AsOf: e1.RecordedAt}), []es.Event{e1})
	sameEvents(t, "between", readStream(t, s, "thing-t", es.StreamQuery{AsOf: e2.RecordedAt.Add(-time.Microsecond)}), []es.Event{e1})
	sameEvents(t, "as of the second", readStream(t, s, "thing-t", es.StreamQuery{AsOf: e2.RecordedAt}), []es.Event{e1, e2})
	sameEvents(t, "before", readStream(t, s, "thing-t", es.StreamQuery{AsOf: e1.RecordedAt.Add(-time.Second)}), nil)
	sameEvents(t, "as of + to version", readStream(t, s, "thing-t", es.StreamQuery{AsOf: time.Now().Add(time.Hour), ToVersion: 1}), []es.Event{e1})
	// AsOf in another time zone means the same instant.
	loc := time.FixedZone("UTC+5", 5*3600)
	sameEvents(t, "as of, other zone", readStream(t, s, "thing-t", es.StreamQuery{AsOf: e1.RecordedAt.In(loc)}), []es.Event{e1})
}

func testStreamVersion(t *testing.T, s es.Store) {
	if v := streamVersion(t, s, "thing-v"); v != 0 {
		t.Fatalf("missing stream at version %d", v)
	}
	appendOK(t, s, "thing-v", es.NoStream, Ev("A", `{}`), Ev("B", `{}`))
	appendOK(t, s, "thing-v", 2, Ev("C", `{}`))
	if v := streamVersion(t, s, "thing-v"); v != 3 {
		t.Fatalf("version %d, want 3", v)
	}
}

func testReadAll(t *testing.T, s es.Store) {
	h0 := head(t, s)
	if evs, err := s.ReadAll(t.Context(), h0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("ReadAll past the head: %d events, %v", len(evs), err)
	}
	var want []es.Event
	for i := range 25 {
		n := 1 + i%3
		var evs []es.Event
		for j := range n {
			evs = append(evs, Ev("E", fmt.Sprintf(`{"i":%d,"j":%d}`, i, j)))
		}
		res := appendOK(t, s, fmt.Sprintf("thing-%d", i%4), es.AnyVersion, evs...)
		want = append(want, res.Events...)
	}
	if h := head(t, s); h != want[len(want)-1].Position {
		t.Fatalf("head %d, want %d", h, want[len(want)-1].Position)
	}
	var got []es.Event
	after := h0
	for {
		evs, err := s.ReadAll(t.Context(), after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 7 {
			t.Fatalf("ReadAll returned %d events, limit 7", len(evs))
		}
		if len(evs) == 0 {
			break
		}
		got = append(got, evs...)
		after = evs[len(evs)-1].Position
	}
	sameEvents(t, "global log", got, want)
	for i, e := range got {
		if e.Position != h0+int64(i)+1 {
			t.Fatalf("position %d at index %d: want gap-free from %d", e.Position, i, h0+1)
		}
	}
	mid := want[10].Position
	evs, err := s.ReadAll(t.Context(), mid, 3)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "from the middle", evs, want[11:14])
}

func testWait(t *testing.T, s es.Store) {
	ctx := t.Context()
	appendOK(t, s, "thing-w", es.NoStream, Ev("A", `{}`))
	h := head(t, s)
	// Already past: returns at once.
	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := s.Wait(quick, h-1); err != nil {
		t.Fatalf("Wait below the head: %v", err)
	}
	cancel()
	// Woken by a commit, promptly.
	woke := make(chan time.Time, 1)
	errc := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := s.Wait(wctx, h)
		woke <- time.Now()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the waiter block (a Wait that starts late returns at once, also fine)
	res := appendOK(t, s, "thing-w", 1, Ev("B", `{}`))
	committed := time.Now()
	if err := <-errc; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if lag := (<-woke).Sub(committed); lag > 500*time.Millisecond {
		t.Fatalf("Wait returned %v after the commit: not woken by it", lag)
	}
	if h2 := head(t, s); h2 < res.Position {
		t.Fatalf("after Wait, head %d < %d", h2, res.Position)
	}
	// Cancelled and timed out.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := s.Wait(cctx, res.Position); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait cancelled: %v, want context.Canceled", err)
	}
	dctx, cancel2 := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel2()
	if err := s.Wait(dctx, res.Position); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait timed out: %v, want context.DeadlineExceeded", err)
	}
}

func testSnapshots(t *testing.T, s es.Store) {
	ctx := t.Context()
	if _, err := s.LoadSnapshot(ctx, "thing-s", 0); !errors.Is(err, es.ErrNotFound) {
		t.Fatalf("no snapshot: %v, want ErrNotFound", err)
	}
	for _, v := range []int64{5, 10} {
		if err := s.SaveSnapshot(ctx, es.Snapshot{StreamID: "thing-s", Version: v, SchemaVersion: 2, State: json.RawMessage(fmt.Sprintf(`{"v":%d}`, v))}); err != nil {
			t.Fatalf("SaveSnapshot %d: %v", v, err)
		}
	}
	for _, tc := range []struct{ max, want int64 }{{0, 10}, {10, 10}, {11, 10}, {9, 5}, {5, 5}} {
		snap, err := s.LoadSnapshot(ctx, "thing-s", tc.max)
		if err != nil {
			t.Fatalf("LoadSnapshot(max %d): %v", tc.max, err)
		}
		if snap.Version != tc.want || snap.StreamID != "thing-s" || snap.SchemaVersion != 2 || !JSONEqual(snap.State, []byte(fmt.Sprintf(`{"v":%d}`, tc.want))) {
			t.Fatalf("LoadSnapshot(max %d) = %+v, want version %d", tc.max, snap, tc.want)
		}
		if snap.RecordedAt.IsZero() || snap.RecordedAt.Location() != time.UTC {
			t.Fatalf("snapshot RecordedAt %v: want set, UTC", snap.RecordedAt)
		}
	}
	if _, err := s.LoadSnapshot(ctx, "thing-s", 4); !errors.Is(err, es.ErrNotFound) {
		t.Fatalf("below every snapshot: %v, want ErrNotFound", err)
	}
	if _, err := s.LoadSnapshot(ctx, "thing-other", 0); !errors.Is(err, es.ErrNotFound) {
		t.Fatalf("other stream: %v, want ErrNotFound", err)
	}
	// Saving the same version replaces it.
	if err := s.SaveSnapshot(ctx, es.Snapshot{StreamID: "thing-s", Version: 10, SchemaVersion: 3, State: json.RawMessage(`{"v":"new"}`)}); err != nil {
		t.Fatal(err)
	}
	snap, err := s.LoadSnapshot(ctx, "thing-s", 0)
	if err != nil || snap.SchemaVersion != 3 || !JSONEqual(snap.State, []byte(`{"v":"new"}`)) {
		t.Fatalf("replaced snapshot: %+v, %v", snap, err)
	}
}

// Upcasting: a message whose schema is now v2; events stored as v1 are upcast
// on read through the Registry.
type renamedV2 struct {
	FullName string `json:"fullName"`
	Source   string `json:"source"`
}

var renamed = es.Define[renamedV2](es.MessageSpec{
	Name: "estest.Renamed", Kind: es.KindEvent, Version: "2.1.0", Owner: "estest",
	Upcasters: map[int]es.Upcaster{1: func(data json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(renamedV2{FullName: v1.Name, Source: "v1"})
	}},
})

func testUpcasting(t *testing.T, s es.Store) {
	reg, err := es.NewRegistry(renamed)
	if err != nil {
		t.Fatal(err)
	}
	old := es.Event{ID: NewID(), Type: "estest.Renamed", SchemaVersion: 1, Data: json.RawMessage(`{"name":"Ada Lovelace"}`)}
	cur, err := reg.Encode(NewID(), renamedV2{FullName: "Grace Hopper", Source: "v2"}, es.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.SchemaVersion != 2 {
		t.Fatalf("encoded at schema version %d, want 2", cur.SchemaVersion)
	}
	appendOK(t, s, "thing-u", es.NoStream, old, cur)
	evs := readStream(t, s, "thing-u", es.StreamQuery{})
	if len(evs) != 2 || evs[0].SchemaVersion != 1 || evs[1].SchemaVersion != 2 {
		t.Fatalf("stored schema versions not kept: %+v", evs)
	}
	want := []renamedV2{{"Ada Lovelace", "v1"}, {"Grace Hopper", "v2"}}
	for i, e := range evs {
		v, err := reg.Decode(e)
		if err != nil {
			t.Fatalf("Decode %d: %v", i, err)
		}
		if v != want[i] {
			t.Fatalf("Decode %d = %+v, want %+v", i, v, want[i])
		}
		typed, err := renamed.Decode(e)
		if err != nil || typed != want[i] {
			t.Fatalf("Msg.Decode %d = %+v, %v", i, typed, err)
		}
	}
}

func testLargePayload(t *testing.T, s es.Store) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	data, _ := json.Marshal(map[string]string{"blob": big})
	e := es.Event{ID: NewID(), Type: "Big", SchemaVersion: 1, Data: data}
	res := appendOK(t, s, "thing-big", es.NoStream, e, Ev("Small", `{}`))
	evs := readStream(t, s, "thing-big", es.StreamQuery{})
	sameEvents(t, "1 MiB payload", evs, res.Events)
	all := readAll(t, s, 0)
	if len(all) != 2 || !JSONEqual(all[0].Data, data) {
		t.Fatalf("ReadAll: %d events", len(all))
	}
	if err := s.SaveSnapshot(t.Context(), es.Snapshot{StreamID: "thing-big", Version: 1, SchemaVersion: 1, State: data}); err != nil {
		t.Fatal(err)
	}
	snap, err := s.LoadSnapshot(t.Context(), "thing-big", 0)
	if err != nil || !JSONEqual(snap.State, data) {
		t.Fatalf("1 MiB snapshot: %v", err)
	}
}

func testUnicode(t *testing.T, s es.Store) {
	stream := "commande-ünïcødé-🛒-订单-\u00e9\u0301"
	data := `{"name":"Zoë «Straße» 東京 🚀","escaped":"\u00e9\n\t\"q\"","rtl":"مرحبا","zwj":"👩‍👩‍👧"}`
	e := es.Event{ID: NewID(), Type: "Überwiesen", SchemaVersion: 1, Data: json.RawMessage(data),
		Metadata: es.Metadata{Actor: "customer:jürgen-😀"}}
	res := commit(t, s, es.Commit{Appends: []es.Append{{StreamID: stream, StreamType: "commande-🛒", Expected: es.NoStream, Events: []es.Event{e}}}})
	evs := readStream(t, s, stream, es.StreamQuery{})
	sameEvents(t, "unicode", evs, res.Events)
	var v map[string]string
	if err := json.Unmarshal(evs[0].Data, &v); err != nil || v["name"] != "Zoë «Straße» 東京 🚀" || v["escaped"] != "é\n\t\"q\"" {
		t.Fatalf("unicode data came back as %s (%v)", evs[0].Data, err)
	}
	if evs[0].StreamType != "commande-🛒" {
		t.Fatalf("stream type %q", evs[0].StreamType)
	}
	if sv := streamVersion(t, s, stream); sv != 1 {
		t.Fatalf("version %d", sv)
	}
	// A stream id that differs only by Unicode normalisation is another stream.
	if sv := streamVersion(t, s, "commande-ünïcødé-🛒-订单-\u00e9"); sv != 0 {
		t.Fatalf("normalisation-equal stream id has version %d; ids must be compared byte for byte", sv)
	}
}

func testCancelled(t *testing.T, s es.Store) {
	appendOK(t, s, "thing-x", es.NoStream, Ev("A", `{}`))
	h := head(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error wrapping context.Canceled", what, err)
		}
	}
	_, err := s.Commit(ctx, es.Commit{Appends: []es.Append{app("thing-x", 1, Ev("B", `{}`))}, InboxID: "x/1"})
	check("Commit", err)
	_, err = s.Commit(ctx, es.Commit{Apply: func(context.Context, es.SQL, []es.Event) error { return nil }})
	check("Commit (Apply only)", err)
	_, err = s.ReadStream(ctx, "thing-x", es.StreamQuery{})
	check("ReadStream", err)
	_, err = s.ReadAll(ctx, 0, 10)
	check("ReadAll", err)
	_, err = s.StreamVersion(ctx, "thing-x")
	check("StreamVersion", err)
	_, err = s.Head(ctx)
	check("Head", err)
	check("Wait", s.Wait(ctx, h))
	check("SaveSnapshot", s.SaveSnapshot(ctx, es.Snapshot{StreamID: "thing-x", Version: 1, SchemaVersion: 1, State: json.RawMessage(`{}`)}))
	_, err = s.LoadSnapshot(ctx, "thing-x", 0)
	check("LoadSnapshot", err)
	check("Migrate", s.Migrate(ctx, "estest", readModel))
	unchanged(t, s, "cancelled commit", h, map[string]int64{"thing-x": 1})
	if _, err := s.LoadSnapshot(t.Context(), "thing-x", 0); !errors.Is(err, es.ErrNotFound) {
		t.Errorf("a snapshot saved with a cancelled context exists: %v", err)
	}
	commit(t, s, es.Commit{InboxID: "x/1"}) // the cancelled commit did not record its inbox id

	// Commits cancelled while others are in flight: each either fails with the
	// ctx error and stores nothing, or succeeds and is stored.
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(t.Context())
			e := Ev("C", fmt.Sprintf(`{"i":%d}`, i))
			stream := fmt.Sprintf("thing-cancel-%d", i)
			go func() { time.Sleep(time.Duration(i%4) * 100 * time.Microsecond); cancel() }()
			_, err := s.Commit(ctx, es.Commit{Appends: []es.Append{app(stream, es.NoStream, e)}})
			v, verr := s.StreamVersion(t.Context(), stream)
			switch {
			case verr != nil:
				t.Errorf("StreamVersion: %v", verr)
			case err == nil && v != 1:
				t.Errorf("commit %d succeeded, stream at %d", i, v)
			case err != nil && !errors.Is(err, context.Canceled):
				t.Errorf("commit %d: %v, want nil or context.Canceled", i, err)
			case err != nil && v != 0:
				t.Errorf("commit %d returned %v but was stored", i, err)
			}
		})
	}
	wg.Wait()
}

var migA = fstest.MapFS{
	"00001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE estest_a (id TEXT PRIMARY KEY);\n-- +goose Down\nDROP TABLE estest_a;\n")},
}

var migB = fstest.MapFS{
	"00001_b.sql": {Data: []byte("-- +goose Up\nCREATE TABLE estest_b (id TEXT PRIMARY KEY);\n-- +goose Down\nDROP TABLE estest_b;\n")},
	"00002_b.sql": {Data: []byte("-- +goose Up\nALTER TABLE estest_b ADD COLUMN n BIGINT NOT NULL DEFAULT 0;\n-- +goose Down\nALTER TABLE estest_b DROP COLUMN n;\n")},
}

func testMigrate(t *testing.T, s es.Store) {
	ctx := t.Context()
	for range 2 {
		if err := s.Migrate(ctx, "estest.a", migA); err != nil {
			t.Fatalf("Migrate a: %v", err)
		}
		// Another owner with the same migration versions has its own history.
		if err := s.Migrate(ctx, "estest.b", migB); err != nil {
			t.Fatalf("Migrate b: %v", err)
		}
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO estest_a (id) VALUES ($1)`, "x"); err != nil {
		t.Fatalf("table of owner a: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO estest_b (id, n) VALUES ($1, $2)`, "x", 2); err != nil {
		t.Fatalf("table of owner b: %v", err)
	}
	// Concurrent migrations of one owner apply it once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := s.Migrate(ctx, "estest", readModel); err != nil {
				t.Errorf("concurrent Migrate: %v", err)
			}
		})
	}
	wg.Wait()
	if n := countItems(t, s, ""); n != 0 {
		t.Fatalf("%d rows", n)
	}
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Fatalf("Dialect %q", d)
	}
}

func testRecordedAt(t *testing.T, s es.Store) {
	before := time.Now()
	var last es.Event
	for i := range 20 {
		res := appendOK(t, s, fmt.Sprintf("thing-%d", i%3), es.AnyVersion, Ev("T", `{}`), Ev("T", `{}`))
		for _, e := range res.Events {
			if e.RecordedAt.Location() != time.UTC {
				t.Fatalf("RecordedAt %v is not UTC", e.RecordedAt)
			}
			if e.RecordedAt.Before(before.Add(-time.Second)) || e.RecordedAt.After(time.Now().Add(time.Second)) {
				t.Fatalf("RecordedAt %v is not now (%v)", e.RecordedAt, before)
			}
			if e.RecordedAt.Before(last.RecordedAt) {
				t.Fatalf("RecordedAt goes back: %v after %v", e.RecordedAt, last.RecordedAt)
			}
			last = e
		}
	}
	for _, e := range readAll(t, s, 0) {
		if e.RecordedAt.Location() != time.UTC {
			t.Fatalf("read RecordedAt %v is not UTC", e.RecordedAt)
		}
	}
}

func testMetadata(t *testing.T, s es.Store) {
	md := es.Metadata{CorrelationID: NewID(), CausationID: NewID(), Actor: "customer:42", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	e := Ev("M", `{}`)
	e.Metadata = md
	plain := Ev("P", `{}`)
	partial := Ev("Q", `{}`)
	partial.Metadata = es.Metadata{Actor: "system"}
	res := appendOK(t, s, "thing-md", es.NoStream, e, plain, partial)
	evs := readStream(t, s, "thing-md", es.StreamQuery{})
	sameEvents(t, "metadata", evs, res.Events)
	if evs[0].Metadata != md || evs[1].Metadata != (es.Metadata{}) || evs[2].Metadata != partial.Metadata {
		t.Fatalf("metadata: %+v", []es.Metadata{evs[0].Metadata, evs[1].Metadata, evs[2].Metadata})
	}
}

func testClosed(t *testing.T, s es.Store) {
	appendOK(t, s, "thing-z", es.NoStream, Ev("A", `{}`))
	// A waiter blocked at Close is released.
	waitErr := make(chan error, 1)
	h := head(t, s)
	go func() { waitErr <- s.Wait(t.Context(), h) }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-waitErr:
		if !errors.Is(err, es.ErrClosed) {
			t.Fatalf("Wait at Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait still blocked 5 s after Close")
	}
	ctx := t.Context()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, es.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	_, err := s.Commit(ctx, es.Commit{Appends: []es.Append{app("thing-z", 1, Ev("B", `{}`))}})
	check("Commit", err)
	_, err = s.ReadStream(ctx, "thing-z", es.StreamQuery{})
	check("ReadStream", err)
	_, err = s.ReadAll(ctx, 0, 1)
	check("ReadAll", err)
	_, err = s.StreamVersion(ctx, "thing-z")
	check("StreamVersion", err)
	_, err = s.Head(ctx)
	check("Head", err)
	check("Wait", s.Wait(ctx, 0))
	check("SaveSnapshot", s.SaveSnapshot(ctx, es.Snapshot{StreamID: "thing-z", Version: 1, State: json.RawMessage(`{}`)}))
	_, err = s.LoadSnapshot(ctx, "thing-z", 0)
	check("LoadSnapshot", err)
	check("Migrate", s.Migrate(ctx, "estest", readModel))
}

// The command path of es.Aggregate over the store: snapshots every 3 events,
// load = snapshot + tail, concurrent commands on one stream retried on
// ErrConcurrency until each is applied once.
type counted struct {
	By int `json:"by"`
}

var countedMsg = es.Define[counted](es.MessageSpec{Name: "estest.Counted", Kind: es.KindEvent, Owner: "estest"})

type counterState struct {
	N int `json:"n"`
}

func testAggregate(t *testing.T, s es.Store) {
	reg, err := es.NewRegistry(countedMsg)
	if err != nil {
		t.Fatal(err)
	}
	agg := &es.Aggregate[counterState, int]{
		Store: s, Registry: reg, NewID: NewID, StreamType: "counter",
		SnapshotEvery: 3, SnapshotVersion: 1, Retries: 1000,
		Decider: es.Decider[counterState, int]{
			Decide: func(_ counterState, by int) ([]any, error) { return []any{counted{By: by}}, nil },
			Evolve: func(st counterState, e any) counterState { st.N += e.(counted).By; return st },
		},
	}
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := agg.Handle(t.Context(), "counter-1", 1); err != nil {
					t.Errorf("Handle: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := agg.Load(t.Context(), "counter-1", es.StreamQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got.State.N != workers*each || got.Version != workers*each {
		t.Fatalf("state %d at version %d, want %d", got.State.N, got.Version, workers*each)
	}
	snap, err := s.LoadSnapshot(t.Context(), "counter-1", 0)
	if err != nil {
		t.Fatalf("no snapshot after %d events: %v", workers*each, err)
	}
	var st counterState
	if err := json.Unmarshal(snap.State, &st); err != nil || int64(st.N) != snap.Version {
		t.Fatalf("snapshot at version %d has state %s", snap.Version, snap.State)
	}
	// As of a version: no snapshot newer than it is used.
	past, err := agg.Load(t.Context(), "counter-1", es.StreamQuery{ToVersion: 7})
	if err != nil || past.State.N != 7 || past.Version != 7 {
		t.Fatalf("state at version 7: %+v, %v", past, err)
	}
	// The consumer path (Decide, then a Commit the caller makes) is
	// snapshotted too: a load that replays SnapshotEvery events saves one.
	for range 7 {
		app, _, err := agg.Decide(t.Context(), "counter-2", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{app}}); err != nil {
			t.Fatal(err)
		}
	}
	snap2, err := s.LoadSnapshot(t.Context(), "counter-2", 0)
	if err != nil || snap2.Version < 3 {
		t.Fatalf("a stream driven through Decide has snapshot %+v (%v); want one at version 3 or later", snap2, err)
	}
	if got, err := agg.Load(t.Context(), "counter-2", es.StreamQuery{}); err != nil || got.State.N != 7 || got.Version != 7 {
		t.Fatalf("counter-2 = %+v, %v; want 7 at version 7", got, err)
	}
}
