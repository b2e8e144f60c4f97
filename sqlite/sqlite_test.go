package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

func add(t *testing.T, s es.Store, stream string, expected int64, n int) es.Result {
	t.Helper()
	evs := make([]es.Event, n)
	for i := range evs {
		evs[i] = estest.Ev("T", fmt.Sprintf(`{"i":%d}`, i))
	}
	res, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{{StreamID: stream, StreamType: "t", Expected: expected, Events: evs}}})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

// A restart on the same file sees every event and continues the log.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	add(t, s, "a", es.NoStream, 3)
	add(t, s, "b", es.NoStream, 2)
	if err := s.SaveSnapshot(t.Context(), es.Snapshot{StreamID: "a", Version: 3, SchemaVersion: 1, State: json.RawMessage(`{"n":3}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h, _ := s.Head(t.Context()); h != 5 {
		t.Fatalf("head %d after reopen, want 5", h)
	}
	if v, _ := s.StreamVersion(t.Context(), "a"); v != 3 {
		t.Fatalf("version %d, want 3", v)
	}
	if _, err := s.LoadSnapshot(t.Context(), "a", 0); err != nil {
		t.Fatal(err)
	}
	res := add(t, s, "a", 3, 1)
	if res.Events[0].Position != 6 || res.Events[0].Version != 4 {
		t.Fatalf("after reopen: position %d, version %d", res.Events[0].Position, res.Events[0].Version)
	}
	// Wait sees the head loaded at open.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := s.Wait(ctx, 5); err != nil {
		t.Fatal(err)
	}
}

func TestOpener(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	open := sqlite.Opener(dir)
	s, err := open(t.Context(), "catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, "catalog.db")); err != nil {
		t.Fatalf("catalog.db: %v", err)
	}
	if s.Dialect() != "sqlite" {
		t.Fatalf("dialect %q", s.Dialect())
	}
	for _, bad := range []string{"", "../x", "a/b", ".."} {
		if _, err := open(t.Context(), bad); err == nil {
			t.Errorf("Opener accepted the name %q", bad)
		}
	}
}

func TestOpenInvalid(t *testing.T) {
	for _, p := range []string{"", ":memory:", "x.db?mode=ro"} {
		if _, err := sqlite.Open(t.Context(), p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlite.WithSynchronous("OFF")); err == nil {
		t.Error("synchronous=OFF accepted: it loses acknowledged commits")
	}
}

// Close lets queued commits finish: each commit either succeeded (and is on
// disk) or returned ErrClosed (and is not).
func TestCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Commit(context.Background(), es.Commit{Appends: []es.Append{{StreamID: fmt.Sprint("s-", i), StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("T", `{}`)}}}})
		})
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := 0
	for i, err := range errs {
		v, verr := s.StreamVersion(t.Context(), fmt.Sprint("s-", i))
		switch {
		case verr != nil:
			t.Fatal(verr)
		case err == nil && v != 1:
			t.Errorf("commit %d acknowledged but not stored", i)
		case err != nil && !errors.Is(err, es.ErrClosed):
			t.Errorf("commit %d: %v", i, err)
		case err != nil && v != 0:
			t.Errorf("commit %d returned ErrClosed but was stored", i)
		case err == nil:
			ok++
		}
	}
	t.Logf("%d of %d commits made it before Close", ok, n)
}

// Apply may not end the group's transaction; the other commits are unharmed.
func TestApplyTransactionControl(t *testing.T) {
	s := open(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			c := es.Commit{Appends: []es.Append{{StreamID: fmt.Sprint("s-", i), StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("T", `{}`)}}}}
			if i%5 == 0 {
				c.Apply = func(ctx context.Context, tx es.SQL, _ []es.Event) error {
					_, err := tx.ExecContext(ctx, " rollback;")
					return err
				}
			}
			_, err := s.Commit(t.Context(), c)
			v, _ := s.StreamVersion(t.Context(), fmt.Sprint("s-", i))
			if i%5 == 0 && (err == nil || v != 0) {
				t.Errorf("commit %d ran ROLLBACK in Apply: err %v, version %d", i, err, v)
			}
			if i%5 != 0 && (err != nil || v != 1) {
				t.Errorf("commit %d: err %v, version %d", i, err, v)
			}
		})
	}
	wg.Wait()
}

// Two Store values on one file (as two processes would): writes of one are
// seen by the other, and Wait notices them through its poll.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a, err := sqlite.Open(t.Context(), path, sqlite.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		done <- a.Wait(ctx, 0)
	}()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			s := []*sqlite.Store{a, b}[i%2]
			add(t, s, "shared", es.AnyVersion, 2)
		})
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("Wait for the other store's commit: %v", err)
	}
	// Read to the end, as every reader of the log does: ReadAll may stop at
	// the newest event this store committed; the next read brings the other
	// store's newer ones.
	var evs []es.Event
	for {
		batch, err := a.ReadAll(t.Context(), int64(len(evs)), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			break
		}
		evs = append(evs, batch...)
	}
	if len(evs) != 100 {
		t.Fatalf("%d events, want 100", len(evs))
	}
	for i, e := range evs {
		if e.Position != int64(i+1) || e.Version != int64(i+1) {
			t.Fatalf("event %d: position %d version %d", i, e.Position, e.Version)
		}
	}
}

func TestVersionTable(t *testing.T) {
	for in, want := range map[string]string{"catalog": "goose_catalog", "catalog.search": "goose_catalog_search", "Cart-Items": "goose_cart_items"} {
		if got := sqlite.VersionTable(in); got != want {
			t.Errorf("VersionTable(%q) = %q, want %q", in, got, want)
		}
	}
}

// Invalid commits are refused before they reach the writer.
func TestCommitValidation(t *testing.T) {
	s := open(t)
	for name, c := range map[string]es.Commit{
		"no stream id":     {Appends: []es.Append{{Expected: es.AnyVersion, Events: []es.Event{estest.Ev("T", `{}`)}}}},
		"no event id":      {Appends: []es.Append{{StreamID: "s", Expected: es.AnyVersion, Events: []es.Event{{Type: "T"}}}}},
		"no type":          {Appends: []es.Append{{StreamID: "s", Expected: es.AnyVersion, Events: []es.Event{{ID: estest.NewID()}}}}},
		"bad JSON":         {Appends: []es.Append{{StreamID: "s", Expected: es.AnyVersion, Events: []es.Event{estest.Ev("T", `{"a":`)}}}},
		"expected too low": {Appends: []es.Append{{StreamID: "s", Expected: -2, Events: []es.Event{estest.Ev("T", `{}`)}}}},
	} {
		if _, err := s.Commit(t.Context(), c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if h, _ := s.Head(t.Context()); h != 0 {
		t.Fatalf("head %d", h)
	}
}

// FuzzRoundTrip: whatever stream id, type and JSON data are committed are
// read back unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add("order-1", "OrderCreated", `{"a":1}`, "corr")
	f.Add("ünï-🛒", "Überwiesen", `{"s":"\u0000 \ud83d\ude00"}`, "")
	f.Add("'; DROP TABLE events; --", "$1", `[1,2,{"x":null}]`, "a\"b")
	f.Add("x", "y", `"just a string"`, "\n")
	s := open(f)
	f.Fuzz(func(t *testing.T, stream, typ, data, corr string) {
		if stream == "" || typ == "" || !json.Valid([]byte(data)) || !utf8.ValidString(corr) {
			t.Skip() // metadata is JSON: invalid UTF-8 in it is replaced by U+FFFD
		}
		e := estest.Ev(typ, data)
		e.Metadata.CorrelationID = corr
		res, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{{StreamID: stream, StreamType: "fuzz", Expected: es.AnyVersion, Events: []es.Event{e}}}})
		if err != nil {
			t.Fatalf("Commit: %v", err)
		}
		got, err := s.ReadAll(t.Context(), res.Position-1, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("ReadAll: %v", err)
		}
		g := got[0]
		if g.ID != e.ID || g.StreamID != stream || g.Type != typ || string(g.Data) != data || g.Metadata.CorrelationID != corr {
			t.Fatalf("round trip: got %q %q %q %q", g.StreamID, g.Type, g.Data, g.Metadata.CorrelationID)
		}
	})
}

// Commit from inside Apply would wait for the writer that runs the Apply: it is
// refused instead of deadlocking.
func TestCommitInsideApply(t *testing.T) {
	s := open(t)
	var inner error
	_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{{StreamID: "a", StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("T", `{}`)}}},
		Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			_, inner = s.Commit(ctx, es.Commit{Appends: []es.Append{{StreamID: "b", StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("T", `{}`)}}}})
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if inner == nil {
		t.Fatal("Commit inside Apply succeeded")
	}
}

// A panicking Apply fails its own commit; the store keeps working.
func TestApplyPanic(t *testing.T) {
	s := open(t)
	_, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{{StreamID: "a", StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("T", `{}`)}}},
		Apply: func(context.Context, es.SQL, []es.Event) error { panic("boom") }})
	if err == nil {
		t.Fatal("panicking Apply: no error")
	}
	add(t, s, "a", es.NoStream, 1)
}

// Queries run as cached prepared statements behave as unprepared ones: a
// query run again while its own rows are still open (DB() and Apply), a
// query after the schema it prepared against changed, and more distinct
// queries than the cache holds.
func TestPreparedStatementsLikeUnprepared(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	const all = `SELECT k FROM kv ORDER BY k`
	nested := func(q func(string) (*sql.Rows, error)) string {
		outer, err := q(all)
		if err != nil {
			t.Fatal(err)
		}
		defer outer.Close()
		var got string
		for outer.Next() {
			var k int
			if err := outer.Scan(&k); err != nil {
				t.Fatal(err)
			}
			inner, err := q(all)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for inner.Next() {
				n++
			}
			inner.Close()
			got += fmt.Sprintf("%d:%d ", k, n)
		}
		if err := outer.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := nested(func(q string) (*sql.Rows, error) { return db.QueryContext(ctx, q) }); got != "0:3 1:3 2:3 " {
		t.Fatalf("DB(): nested runs of one query gave %q", got)
	}
	var inApply string
	if _, err := s.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		inApply = nested(func(q string) (*sql.Rows, error) { return tx.QueryContext(ctx, q) })
		for i := range 3 { // the same Exec and QueryRow again and again
			if _, err := tx.ExecContext(ctx, `UPDATE kv SET v = v || 'x' WHERE k = $1`, i); err != nil {
				return err
			}
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if inApply != "0:3 1:3 2:3 " {
		t.Fatalf("Apply: nested runs of one query gave %q", inApply)
	}
	// the schema changes under a prepared statement: prepared (and cached)
	// before the ALTER, it answers with the new column after it
	var v string
	if err := db.QueryRowContext(ctx, `SELECT * FROM kv WHERE k = $1`, 1).Scan(new(int), &v); err != nil || v != "v1x" {
		t.Fatalf("before ALTER TABLE: %q, %v", v, err)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE kv ADD COLUMN w TEXT DEFAULT 'w'`); err != nil {
		t.Fatal(err)
	}
	var w string
	if err := db.QueryRowContext(ctx, `SELECT * FROM kv WHERE k = $1`, 1).Scan(new(int), &v, &w); err != nil || v != "v1x" || w != "w" {
		t.Fatalf("after ALTER TABLE: %q %q, %v", v, w, err)
	}
	for i := range 600 { // more distinct queries than the cache holds
		var n int
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) + %d FROM kv`, i)).Scan(&n); err != nil || n != 3+i {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
}

// Open refreshes the planner's statistics of the tables already filled, so
// the planner can tell a selective index from a broad one.
func TestOpenAnalyzesFilledTables(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (id INTEGER PRIMARY KEY, kind TEXT); CREATE INDEX items_kind ON items (kind)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		INSERT INTO items (id, kind) SELECT i, 'k' || (i % 50) FROM n`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = sqlite.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stat string
	if err := s.DB().QueryRowContext(ctx, `SELECT stat FROM sqlite_stat1 WHERE idx = 'items_kind'`).Scan(&stat); err != nil {
		t.Fatalf("no statistics for items_kind after Open: %v", err)
	}
	var rows, perKind int
	if _, err := fmt.Sscanf(stat, "%d %d", &rows, &perKind); err != nil || rows != 5000 || perKind < 50 || perKind > 200 {
		t.Fatalf("items_kind statistics %q, want 5000 rows and about 100 per kind (estimated: analysis_limit)", stat)
	}
}
