package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"acme/es"
	"acme/es/estest"
	"acme/postgres"
	"acme/testenv"
)

// TestTwoProcessesNeverSkip runs two Store instances on one schema (what two
// `acme serve` processes do): writers on both, a reader on each tailing the
// log. Every event must be seen exactly once by both readers, at gap-free
// increasing positions; exact-version appends to shared streams must lose
// races with ErrConcurrency across the instances, never with a duplicate
// version or a raw driver error.
func TestTwoProcessesNeverSkip(t *testing.T) {
	url, schema := testenv.PostgresSchema(t, "estest_")
	a := openSchema(t, url, schema)
	b := openSchema(t, url, schema)
	stores := []*postgres.Store{a, b}
	total := 5_000
	if testing.Short() {
		total = 1_000
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	var budget atomic.Int64
	budget.Store(int64(total))
	var conflicts, checkedOK atomic.Int64
	var mu sync.Mutex
	written := map[string]bool{}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	report := func(err error) {
		errc <- err
		cancel() // stop everyone: the test has failed
	}
	for w := range 16 {
		s := stores[w%2]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for budget.Add(-1) >= 0 {
				stream := fmt.Sprintf("shared-%d", rng.IntN(16))
				e := estest.Ev("Happened", fmt.Sprintf(`{"w":%d}`, w))
				for {
					// Every commit checks the exact version: the two instances race.
					v, err := s.StreamVersion(ctx, stream)
					if err != nil {
						report(err)
						return
					}
					_, err = s.Commit(ctx, es.Commit{Appends: []es.Append{{StreamID: stream, StreamType: "shared", Expected: v, Events: []es.Event{e}}}})
					if errors.Is(err, es.ErrConcurrency) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						report(fmt.Errorf("writer %d: %w", w, err))
						return
					}
					checkedOK.Add(1)
					break
				}
				mu.Lock()
				written[e.ID] = true
				mu.Unlock()
			}
		})
	}
	var done atomic.Bool
	seen := make([]map[string]int64, 2)
	var rwg sync.WaitGroup
	for i, s := range stores {
		seen[i] = map[string]int64{}
		rwg.Go(func() {
			var pos int64
			for {
				evs, err := s.ReadAll(ctx, pos, 500)
				if err != nil {
					report(err)
					return
				}
				for _, e := range evs {
					if e.Position != pos+1 {
						report(fmt.Errorf("reader %d: position %d after %d", i, e.Position, pos))
						return
					}
					if _, dup := seen[i][e.ID]; dup {
						report(fmt.Errorf("reader %d: %s twice", i, e.ID))
						return
					}
					seen[i][e.ID] = e.Position
					pos = e.Position
				}
				if len(evs) > 0 {
					continue
				}
				if done.Load() && pos >= int64(total) {
					return
				}
				wctx, wcancel := context.WithTimeout(ctx, 200*time.Millisecond)
				err = s.Wait(wctx, pos)
				wcancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					report(err)
					return
				}
				if ctx.Err() != nil {
					report(ctx.Err())
					return
				}
			}
		})
	}
	wg.Wait()
	done.Store(true)
	rwg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(written) != total {
		t.Fatalf("wrote %d events, want %d", len(written), total)
	}
	for i := range seen {
		if len(seen[i]) != total {
			t.Fatalf("reader %d saw %d events, want %d", i, len(seen[i]), total)
		}
		for id := range written {
			if _, ok := seen[i][id]; !ok {
				t.Fatalf("reader %d never saw %s", i, id)
			}
		}
	}
	// Versions are contiguous per stream and sum to the number of events.
	var sum int64
	for k := range 16 {
		stream := fmt.Sprintf("shared-%d", k)
		evs, err := a.ReadStream(ctx, stream, es.StreamQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range evs {
			if e.Version != int64(j+1) {
				t.Fatalf("%s: event %d has version %d", stream, j, e.Version)
			}
		}
		v, _ := b.StreamVersion(ctx, stream)
		if v != int64(len(evs)) {
			t.Fatalf("%s: version %d, %d events", stream, v, len(evs))
		}
		sum += v
	}
	if sum != int64(total) {
		t.Fatalf("streams hold %d events, want %d", sum, total)
	}
	if conflicts.Load() == 0 {
		t.Logf("no conflict happened (the race was not exercised this run)")
	}
	t.Logf("%d events, %d ErrConcurrency across two instances", total, conflicts.Load())
}

// TestWaitWokenByOtherProcess: a commit through another Store (another
// process) wakes Wait through NOTIFY, long before the fallback poll.
func TestWaitWokenByOtherProcess(t *testing.T) {
	url, schema := testenv.PostgresSchema(t, "estest_")
	a := openSchema(t, url, schema, postgres.WithWaitPoll(time.Hour))
	b := openSchema(t, url, schema)
	h, _ := a.Head(t.Context())
	woke := make(chan error, 1)
	go func() { woke <- a.Wait(t.Context(), h) }()
	time.Sleep(50 * time.Millisecond) // let Wait block (the result does not depend on it)
	start := time.Now()
	if _, err := b.Commit(t.Context(), es.Commit{Appends: []es.Append{{StreamID: "s", StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("E", `{}`)}}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-woke:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("woken %v after the other process's commit", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("Wait was not woken by another process's commit")
	}
}

// TestReadModelsInSchema: DB() and Apply run unqualified SQL in the context's
// schema; Migrate records versions per owner.
func TestReadModelsInSchema(t *testing.T) {
	url, schema := testenv.PostgresSchema(t, "estest_")
	s := openSchema(t, url, schema)
	ctx := t.Context()
	fsys := fstest.MapFS{"00001_items.sql": {Data: []byte("-- +goose Up\nCREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL);\n-- +goose Down\nDROP TABLE items;\n")}}
	for range 2 { // idempotent
		if err := s.Migrate(ctx, "catalog.items", fsys); err != nil {
			t.Fatal(err)
		}
	}
	apply := func(ctx context.Context, tx es.SQL, evs []es.Event) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO items (id, n) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET n = items.n + EXCLUDED.n`, "x", evs[0].Position)
		return err
	}
	res, err := s.Commit(ctx, es.Commit{Apply: apply, Appends: []es.Append{{StreamID: "x", StreamType: "item", Expected: es.NoStream, Events: []es.Event{estest.Ev("Added", `{}`)}}}})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.DB().QueryRowContext(ctx, "SELECT n FROM items WHERE id = $1", "x").Scan(&n); err != nil || n != res.Position {
		t.Fatalf("items.n = %d (%v), want %d", n, err, res.Position)
	}
	var where string
	if err := s.DB().QueryRowContext(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'items'").Scan(&where); err != nil || where != schema {
		t.Fatalf("items is in schema %q (%v), want %q", where, err, schema)
	}
	var owner int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM goose_catalog_items WHERE version_id = 1").Scan(&owner); err != nil || owner != 1 {
		t.Fatalf("goose_catalog_items: %d rows (%v)", owner, err)
	}
}

// TestOpener opens schema <prefix><name>.
func TestOpener(t *testing.T) {
	url, schema := testenv.PostgresSchema(t, "estest_")
	prefix, name, _ := strings.Cut(schema, "_")
	st, err := postgres.Opener(url, prefix+"_")(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := st.(*postgres.Store).Schema(); got != schema {
		t.Fatalf("schema %q, want %q", got, schema)
	}
	if _, err := postgres.Open(t.Context(), url, "Bad-Name"); err == nil {
		t.Fatal("Open accepted an invalid schema name")
	}
}

// TestBadCommitInBatchFailsAlone: a commit PostgreSQL refuses (a \u0000 in
// jsonb passes json.Valid) among many concurrent ones fails alone: the batch
// is redone with every commit under its own savepoint.
func TestBadCommitInBatchFailsAlone(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			data := json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
			if i == 17 {
				data = json.RawMessage(`{"bad":"\u0000"}`)
			}
			_, errs[i] = s.Commit(ctx, es.Commit{InboxID: fmt.Sprintf("in-%d", i), Appends: []es.Append{{StreamID: fmt.Sprintf("s-%d", i), StreamType: "t", Expected: es.NoStream, Events: []es.Event{{ID: estest.NewID(), Type: "E", SchemaVersion: 1, Data: data}}}}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 17 {
			if err == nil || errors.Is(err, es.ErrConcurrency) || errors.Is(err, es.ErrDuplicate) {
				t.Fatalf("bad commit: got %v, want a storage error", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if h, _ := s.Head(ctx); h != 39 {
		t.Fatalf("head %d, want 39", h)
	}
}
