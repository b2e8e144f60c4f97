package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

// TestUpgradeFromFirstSchema opens a store written with only the first
// migration (a streams table, inbox as a rowid table): after the later
// migrations every stream keeps its version (now its last event's) and every
// inbox id stays recorded. Migrating down again rebuilds the streams table.
func TestUpgradeFromFirstSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	first, err := os.ReadFile("migrations/00001_events.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db,
		fstest.MapFS{"00001_events.sql": {Data: first}},
		goose.WithTableName(sqlite.VersionTable("es")), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO events VALUES (1, 'e1', 'a', 't', 1, 'T', 1, '{}', '{}', 1), (2, 'e2', 'a', 't', 2, 'T', 1, '{}', '{}', 2)`,
		`INSERT INTO streams VALUES ('a', 't', 2)`,
		`INSERT INTO inbox VALUES ('consumer/m1', 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.StreamVersion(ctx, "a"); err != nil || v != 2 {
		t.Fatalf("stream version %d, %v after the upgrade; want 2", v, err)
	}
	stale := es.Commit{Appends: []es.Append{{StreamID: "a", StreamType: "t", Expected: 1, Events: []es.Event{estest.Ev("T", `{}`)}}}}
	if _, err := s.Commit(ctx, stale); !errors.Is(err, es.ErrConcurrency) {
		t.Fatalf("append at a stale version: %v, want ErrConcurrency", err)
	}
	dup := es.Commit{InboxID: "consumer/m1", Appends: []es.Append{{StreamID: "b", StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("T", `{}`)}}}}
	if _, err := s.Commit(ctx, dup); !errors.Is(err, es.ErrDuplicate) {
		t.Fatalf("inbox id recorded before the upgrade: %v, want ErrDuplicate", err)
	}
	res := add(t, s, "a", 2, 1)
	if res.Events[0].Version != 3 || res.Events[0].Position != 3 {
		t.Fatalf("append after the upgrade: version %d, position %d; want 3, 3", res.Events[0].Version, res.Events[0].Position)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err = goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"),
		goose.WithTableName(sqlite.VersionTable("es")), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var version int64
	if err := db.QueryRowContext(ctx, `SELECT version FROM streams WHERE stream_id = 'a'`).Scan(&version); err != nil || version != 3 {
		t.Fatalf("streams after migrating down: version %d, %v; want 3", version, err)
	}
	var inbox int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM inbox WHERE id = 'consumer/m1'`).Scan(&inbox); err != nil || inbox != 1 {
		t.Fatalf("inbox after migrating down: %d, %v", inbox, err)
	}
}
