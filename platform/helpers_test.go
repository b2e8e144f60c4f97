package platform

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"acme"
	"acme/es"
	"acme/natsbus"
	"acme/sqlite"
	"acme/testenv"
)

// Test messages: alpha owns the event ThingHappened, beta owns the command DoThing.
type thingHappened struct {
	ThingID string `json:"thingId"`
	N       int    `json:"n"`
}

type doThing struct {
	ThingID string `json:"thingId"`
}

var (
	ThingHappened = es.Define[thingHappened](es.MessageSpec{Name: "ThingHappened", Kind: es.KindEvent, Owner: "alpha", Summary: "test event"})
	DoThing       = es.Define[doThing](es.MessageSpec{Name: "DoThing", Kind: es.KindCommand, Owner: "beta", Summary: "test command"})
	ThingRenamed  = es.Define[thingRenamed](es.MessageSpec{Name: "ThingRenamed", Kind: es.KindEvent, Owner: "alpha", Summary: "test event"})
	ThingNoted    = es.Define[thingNoted](es.MessageSpec{Name: "ThingNoted", Kind: es.KindEvent, Owner: "alpha", Summary: "test internal event", Internal: true})
)

type thingNoted struct {
	ThingID string `json:"thingId"`
}

type thingRenamed struct {
	ThingID string `json:"thingId"`
	Name    string `json:"name"`
}

func testRegistry(t testing.TB) *es.Registry {
	t.Helper()
	r, err := es.NewRegistry(ThingHappened, DoThing, ThingRenamed, ThingNoted)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func embeddedBus(t testing.TB, opts ...natsbus.Options) *natsbus.Bus {
	t.Helper()
	b, err := natsbus.Embedded(context.Background(), t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// externalBus connects to the test NATS server (server mode; skipped without
// it unless CI) under a prefix of its own, destroyed when the test ends.
func externalBus(t testing.TB) *natsbus.Bus {
	t.Helper()
	opts := natsbus.Options{Prefix: fmt.Sprintf("P%d_%d_", os.Getpid(), time.Now().UnixNano()%1_000_000_000)}
	bus, err := natsbus.Connect(context.Background(), testenv.NATSURL(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bus.Destroy(ctx)
		_ = bus.Close()
	})
	return bus
}

func openStore(t testing.TB, dir, name string) es.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, name+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newPlatform(t testing.TB, bus es.Bus, mod func(*Config)) *Platform {
	t.Helper()
	cfg := Config{Bus: bus, Registry: testRegistry(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, LeaseTTL: 3 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// seenTable is a read model of beta: one row per thing, with a counter of
// applications (an exactly-once effect shows as applied = 1).
var seenMigrations = fstest.MapFS{"00001_seen.sql": {Data: []byte(`-- +goose Up
CREATE TABLE IF NOT EXISTS beta_seen (thing_id TEXT PRIMARY KEY, applied BIGINT NOT NULL);
-- +goose Down
DROP TABLE beta_seen;
`)}}

func migrateSeen(t testing.TB, s es.Store) {
	t.Helper()
	if err := s.Migrate(context.Background(), "beta", seenMigrations); err != nil {
		t.Fatal(err)
	}
}

// countingHandler increments beta_seen.applied for the message's thing: not
// idempotent on its own, so a second application would show.
func countingHandler(calls *atomic.Int64) es.Handler {
	return func(ctx context.Context, m es.Message) (es.Commit, error) {
		calls.Add(1)
		var v struct {
			ThingID string `json:"thingId"`
		}
		if err := json.Unmarshal(m.Data, &v); err != nil {
			return es.Commit{}, es.Permanent(err)
		}
		return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO beta_seen (thing_id, applied) VALUES ($1, 1)
ON CONFLICT (thing_id) DO UPDATE SET applied = beta_seen.applied + 1`, v.ThingID)
			return err
		}}, nil
	}
}

func applied(t testing.TB, s es.Store, thing string) int64 {
	t.Helper()
	var n int64
	err := s.DB().QueryRowContext(context.Background(), `SELECT applied FROM beta_seen WHERE thing_id = $1`, thing).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func appendThing(t testing.TB, s es.Store, thing string, n int) es.Result {
	t.Helper()
	e := ThingHappened.New(acme.NewID(), thingHappened{ThingID: thing, N: n}, es.Metadata{CorrelationID: "corr-" + thing, Actor: "admin"})
	res, err := s.Commit(context.Background(), es.Commit{Appends: []es.Append{{StreamID: "thing-" + thing, StreamType: "thing", Expected: es.AnyVersion, Events: []es.Event{e}}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
