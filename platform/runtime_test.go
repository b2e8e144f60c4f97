package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
	"acme/natsbus"
)

var errKilled = errors.New("relay killed between publish and checkpoint (test)")

// The relay dies after the bus acknowledged a batch but before its checkpoint
// is stored; on restart it publishes the batch again. Past the bus's duplicate
// window the consumer receives the message twice and its inbox applies it once;
// within the window the bus itself drops the copy.
func TestRelayCrashBetweenPublishAndCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name       string
		window     time.Duration
		wantCalls  int64
		pauseAfter time.Duration
	}{
		{"PastDuplicateWindow_InboxDedups", 100 * time.Millisecond, 2, 400 * time.Millisecond},
		{"WithinDuplicateWindow_BusDedups", 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bus := embeddedBus(t, natsbus.Options{DuplicateWindow: tc.window})
			alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
			migrateSeen(t, beta)
			p := newPlatform(t, bus, nil)
			ha := p.Host("alpha", alpha).(*host)
			var kills atomic.Int64
			ha.relay.afterPublish = func() error {
				if kills.Add(1) == 1 {
					time.Sleep(tc.pauseAfter)
					return errKilled
				}
				return nil
			}
			var calls atomic.Int64
			p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
			res := appendThing(t, alpha, "t1", 1)
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "the relay checkpoint after the restart", func() bool {
				cp, _ := readCheckpoint(context.Background(), alpha, relayCheckpoint)
				return cp == res.Position
			})
			eventually(t, 10*time.Second, fmt.Sprintf("%d handler calls", tc.wantCalls), func() bool { return calls.Load() >= tc.wantCalls })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.Await(ctx, httpapi.Position{"alpha": res.Position}, []string{"beta.things"}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // a further (wrong) delivery would show now
			if got := calls.Load(); got != tc.wantCalls {
				t.Fatalf("handler called %d times, want %d", got, tc.wantCalls)
			}
			if kills.Load() < 2 {
				t.Fatalf("the relay published %d times, want a re-publish after the crash", kills.Load())
			}
			if n := applied(t, beta, "t1"); n != 1 {
				t.Fatalf("effect applied %d times, want exactly once", n)
			}
		})
	}
}

func adminRequest(t *testing.T, api *httpapi.API, method, path string) (int, []byte) {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

// A handler that always fails ends in the dead-letter list after MaxDeliveries;
// after the fix, a retry applies it exactly once.
func TestDeadLetterAndRetry(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, bus, func(c *Config) { c.MaxDeliveries = 3 })
	p.Host("alpha", alpha)
	var broken atomic.Bool
	broken.Store(true)
	var calls, attempts atomic.Int64
	var slow atomic.Bool
	inner := countingHandler(&calls)
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		attempts.Add(1)
		if broken.Load() {
			return es.Commit{}, errors.New("downstream unavailable")
		}
		if slow.Load() {
			time.Sleep(50 * time.Millisecond) // a slow send: the window concurrent retries would share
		}
		return inner(ctx, m)
	})
	api := httpapi.New("tok")
	p.Routes(api)
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := appendThing(t, alpha, "t1", 1)

	var list struct{ Items []DeadLetterView }
	eventually(t, 15*time.Second, "the dead letter", func() bool {
		code, body := adminRequest(t, api, "GET", "/api/v1/admin/dead-letters")
		if code != 200 {
			t.Fatalf("GET dead-letters: %d %s", code, body)
		}
		list.Items = nil
		_ = json.Unmarshal(body, &list)
		return len(list.Items) == 1
	})
	dl := list.Items[0]
	if dl.Consumer != "beta.things" || dl.MessageType != "ThingHappened" || dl.MessageID != res.Events[0].ID ||
		dl.Deliveries != 3 || !strings.Contains(dl.Error, "downstream unavailable") || dl.DeadAt.IsZero() {
		t.Fatalf("dead letter = %+v", dl)
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("handler attempted %d times, want 3 (MaxDeliveries)", n)
	}
	time.Sleep(300 * time.Millisecond)
	if n := attempts.Load(); n != 3 {
		t.Fatalf("a dead-lettered message was delivered again (%d attempts)", n)
	}
	rms := p.ReadModels(context.Background())
	if len(rms) != 1 || rms[0].Name != "beta.things" || rms[0].Status != "failing" || rms[0].LastError == "" {
		t.Fatalf("read models = %+v, want beta.things failing with its error", rms)
	}

	// Still broken: the retry fails and the message stays listed.
	code, body := adminRequest(t, api, "POST", "/api/v1/admin/dead-letters/"+dl.ID+"/retry")
	if code != 202 || !strings.Contains(string(body), `"failed"`) {
		t.Fatalf("retry while broken: %d %s", code, body)
	}
	_, body = adminRequest(t, api, "GET", "/api/v1/admin/dead-letters")
	list.Items = nil
	_ = json.Unmarshal(body, &list)
	if len(list.Items) != 1 || list.Items[0].ID != dl.ID || list.Items[0].Deliveries != dl.Deliveries+1 {
		t.Fatalf("after a failed retry (want id %s kept, one more delivery): %s", dl.ID, body)
	}

	// Five retries at once: the handler runs once (its effects outside the
	// store, an email say, happen once); the others are 409 or 404.
	broken.Store(false)
	slow.Store(true)
	before := calls.Load()
	codes := make([]int, 5)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			var b []byte
			codes[i], b = adminRequest(t, api, "POST", "/api/v1/admin/dead-letters/"+list.Items[0].ID+"/retry")
			if codes[i] == 202 && !strings.Contains(string(b), `"applied"`) {
				t.Errorf("retry: %s", b)
			}
		})
	}
	wg.Wait()
	if slices.Index(codes, 202) < 0 || slices.ContainsFunc(codes, func(c int) bool { return c != 202 && c != 409 && c != 404 }) {
		t.Fatalf("concurrent retries answered %v", codes)
	}
	if n := calls.Load() - before; n != 1 {
		t.Fatalf("the handler ran %d times for concurrent retries, want 1", n)
	}
	if n := applied(t, beta, "t1"); n != 1 {
		t.Fatalf("applied %d times after the retry, want 1", n)
	}
	code, body = adminRequest(t, api, "POST", "/api/v1/admin/dead-letters/"+list.Items[0].ID+"/retry")
	if code != 404 {
		t.Fatalf("second retry of the same dead letter: %d %s, want 404", code, body)
	}
	_, body = adminRequest(t, api, "GET", "/api/v1/admin/dead-letters")
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("dead letters after the retry: %s", body)
	}
	if n := applied(t, beta, "t1"); n != 1 {
		t.Fatalf("applied %d times, want 1", n)
	}
}

func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	p := newPlatform(t, bus, nil)
	p.Host("alpha", alpha)
	var attempts atomic.Int64
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		attempts.Add(1)
		return es.Commit{}, es.Permanent(acme.Errorf("bad_data", "cannot use this"))
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "t1", 1)
	var dls []es.DeadLetter
	eventually(t, 10*time.Second, "the dead letter", func() bool {
		dls, _ = bus.DeadLetters(context.Background(), 0)
		return len(dls) == 1
	})
	if dls[0].Deliveries != 1 || attempts.Load() != 1 {
		t.Fatalf("deliveries %d, attempts %d: a permanent error must not be retried", dls[0].Deliveries, attempts.Load())
	}
}

// thingsProjection sums n per thing in alpha_things. Apply is idempotent by
// position (each row remembers the last position it applied).
func thingsProjection(resets *atomic.Int64, slow time.Duration) es.Projection {
	return es.Projection{
		Name: "alpha.things",
		Migrations: fstest.MapFS{"00001_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE IF NOT EXISTS alpha_things (thing_id TEXT PRIMARY KEY, total BIGINT NOT NULL, events BIGINT NOT NULL, last_position BIGINT NOT NULL);
-- +goose Down
DROP TABLE alpha_things;
`)}},
		Apply: func(ctx context.Context, tx es.SQL, events []es.Event) error {
			for _, e := range events {
				v, err := ThingHappened.Decode(e)
				if err != nil {
					continue // other types
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO alpha_things (thing_id, total, events, last_position) VALUES ($1, $2, 1, $3)
ON CONFLICT (thing_id) DO UPDATE SET total = alpha_things.total + excluded.total, events = alpha_things.events + 1, last_position = excluded.last_position
WHERE alpha_things.last_position < excluded.last_position`, v.ThingID, v.N, e.Position); err != nil {
					return err
				}
			}
			time.Sleep(slow)
			return nil
		},
		Reset: func(ctx context.Context, tx es.SQL) error {
			resets.Add(1)
			_, err := tx.ExecContext(ctx, `DELETE FROM alpha_things`)
			return err
		},
	}
}

func dumpThings(t testing.TB, s es.Store) string {
	t.Helper()
	rows, err := s.DB().QueryContext(context.Background(), `SELECT thing_id, total, events FROM alpha_things ORDER BY thing_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id string
		var total, n int64
		if err := rows.Scan(&id, &total, &n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%d/%d;", id, total, n)
	}
	return b.String()
}

// A projection fed duplicated (a batch applied twice) and replayed (checkpoint
// rewound, or rebuilt) events ends identical to the one fed each event once.
func TestProjectionDuplicatedAndReplayedEndIdentical(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha := openStore(t, dir, "alpha")
	var resets atomic.Int64
	p := newPlatform(t, bus, func(c *Config) { c.ProjectionBatch = 7 })
	h := p.Host("alpha", alpha)
	h.Project(thingsProjection(&resets, 0))
	var last es.Result
	for i := range 60 {
		last = appendThing(t, alpha, fmt.Sprintf("t%d", i%5), i+1)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": last.Position}, []string{"alpha.things"}); err != nil {
		t.Fatal(err)
	}
	want := dumpThings(t, alpha)
	if want != "t0=342/12;t1=354/12;t2=366/12;t3=378/12;t4=390/12;" {
		t.Fatalf("model = %s", want)
	}
	x := h.(*host).projections[0]

	// Duplicated: the same events applied again (as by a crashed runner).
	evs, _ := alpha.ReadAll(context.Background(), 0, 1000)
	if _, err := alpha.Commit(context.Background(), es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		return x.p.Apply(ctx, tx, evs[10:30])
	}}); err != nil {
		t.Fatal(err)
	}
	if got := dumpThings(t, alpha); got != want {
		t.Fatalf("after duplicates: %s, want %s", got, want)
	}

	// Replayed: a rebuild replays the whole log.
	if err := p.Rebuild(context.Background(), "alpha.things"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the rebuild", func() bool { return resets.Load() == 1 && x.status.Load() == "running" })
	if got := dumpThings(t, alpha); got != want {
		t.Fatalf("after rebuild: %s, want %s", got, want)
	}
	// New events after the rebuild are applied once.
	last = appendThing(t, alpha, "t0", 1000)
	if err := p.Await(ctx, httpapi.Position{"alpha": last.Position}, []string{"alpha.things"}); err != nil {
		t.Fatal(err)
	}
	if got := dumpThings(t, alpha); !strings.HasPrefix(got, "t0=1342/13;") {
		t.Fatalf("after a new event: %s", got)
	}
}

// A rebuild under concurrent reads never serves an empty or half-built model.
func TestRebuildUnderConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha := openStore(t, dir, "alpha")
	var resets atomic.Int64
	p := newPlatform(t, bus, func(c *Config) { c.ProjectionBatch = 50; c.AwaitTimeout = 30 * time.Second })
	h := p.Host("alpha", alpha)
	h.Project(thingsProjection(&resets, 5*time.Millisecond)) // slow batches: the rebuild takes a while
	const n = 1000
	var apps []es.Append
	for i := range n {
		e := ThingHappened.New(acme.NewID(), thingHappened{ThingID: fmt.Sprintf("t%03d", i%100), N: 1}, es.Metadata{})
		apps = append(apps, es.Append{StreamID: fmt.Sprintf("thing-%d", i), Expected: es.NoStream, Events: []es.Event{e}})
	}
	for i := 0; i < n; i += 250 {
		if _, err := alpha.Commit(context.Background(), es.Commit{Appends: apps[i : i+250]}); err != nil {
			t.Fatal(err)
		}
	}
	api := httpapi.New("tok")
	p.Routes(api)
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": n}, nil); err != nil {
		t.Fatal(err)
	}
	read := func() (rows, total int64) {
		err := alpha.DB().QueryRowContext(context.Background(), `SELECT COUNT(*), COALESCE(SUM(total), 0) FROM alpha_things`).Scan(&rows, &total)
		if err != nil {
			t.Error(err)
		}
		return
	}
	if r, s := read(); r != 100 || s != n {
		t.Fatalf("before the rebuild: %d rows, total %d", r, s)
	}
	code, body := adminRequest(t, api, "POST", "/api/v1/admin/projections/alpha.things/rebuild")
	if code != 202 {
		t.Fatalf("rebuild: %d %s", code, body)
	}
	var reads, during int64
	for resets.Load() == 0 || p.ReadModels(context.Background())[0].Status == "rebuilding" {
		if ctx.Err() != nil {
			t.Fatalf("the rebuild did not finish: resets %d, %+v", resets.Load(), p.ReadModels(context.Background()))
		}
		if r, s := read(); r != 100 || s != n {
			t.Fatalf("a read during the rebuild saw %d rows, total %d: an empty or half-built model", r, s)
		}
		reads++
		if resets.Load() == 1 {
			during++
		}
		time.Sleep(time.Millisecond)
	}
	if during == 0 {
		t.Fatalf("no read overlapped the rebuild (%d reads): the test proves nothing", reads)
	}
	if r, s := read(); r != 100 || s != n {
		t.Fatalf("after the rebuild: %d rows, total %d", r, s)
	}
	code, body = adminRequest(t, api, "GET", "/api/v1/admin/projections")
	if code != 200 || !strings.Contains(string(body), `"name":"alpha.things"`) || !strings.Contains(string(body), fmt.Sprintf(`"position":%d`, n)) {
		t.Fatalf("GET projections: %d %s", code, body)
	}
	if code, _ := adminRequest(t, api, "POST", "/api/v1/admin/projections/nope/rebuild"); code != 404 {
		t.Fatalf("rebuild of an unknown projection: %d, want 404", code)
	}
}

// Exactly one relay per context runs across processes; when its holder stops,
// another process takes over.
func TestOneRelayPerContextAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	mk := func() (*Platform, *host) {
		p := newPlatform(t, bus, func(c *Config) { c.LeaseTTL = 900 * time.Millisecond })
		return p, p.Host("alpha", alpha).(*host)
	}
	p1, h1 := mk()
	p2, h2 := mk()
	var calls atomic.Int64
	p2.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
	if err := p1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "p1 leading", func() bool { return h1.relay.leader.Load() })
	if err := p2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // more than a renewal period
	if !h1.relay.leader.Load() || h2.relay.leader.Load() {
		t.Fatalf("leaders: p1 %v, p2 %v; want p1 only", h1.relay.leader.Load(), h2.relay.leader.Load())
	}
	appendThing(t, alpha, "t1", 1)
	eventually(t, 5*time.Second, "t1 applied", func() bool { return applied(t, beta, "t1") == 1 })
	_ = p1.Close() // releases its lease
	eventually(t, 5*time.Second, "p2 taking over", func() bool { return h2.relay.leader.Load() })
	res := appendThing(t, alpha, "t2", 1)
	eventually(t, 5*time.Second, "t2 applied after the takeover", func() bool { return applied(t, beta, "t2") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p2.Await(ctx, httpapi.Position{"alpha": res.Position}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestAwaitGivesUpWithStaleReadModel(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha := openStore(t, dir, "alpha")
	var resets atomic.Int64
	p := newPlatform(t, bus, func(c *Config) { c.AwaitTimeout = 300 * time.Millisecond })
	p.Host("alpha", alpha).Project(thingsProjection(&resets, 0))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := appendThing(t, alpha, "t1", 1)
	start := time.Now()
	err := p.Await(context.Background(), httpapi.Position{"alpha": res.Position + 5}, nil)
	if acme.ErrorCode(err) != acme.CodeStaleReadModel {
		t.Fatalf("Await past the head: %v, want stale_read_model", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("gave up after %s, want the 300ms timeout", el)
	}
	if err := p.Await(context.Background(), httpapi.Position{"alpha": 1}, []string{"nope"}); err == nil || acme.ErrorCode(err) == acme.CodeStaleReadModel {
		t.Fatalf("unknown read model: %v, want an error", err)
	}
}

func TestAdminStreamEvents(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	p := newPlatform(t, bus, nil)
	p.Host("beta", beta)
	p.Host("alpha", alpha)
	res := appendThing(t, alpha, "t1", 3)
	api := httpapi.New("tok")
	p.Routes(api)
	code, body := adminRequest(t, api, "GET", "/api/v1/admin/streams/thing-t1/events")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var got struct{ Items []StreamEvent }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	e := got.Items
	if len(e) != 1 || e[0].EventID != res.Events[0].ID || e[0].Type != "ThingHappened" || e[0].SchemaVersion != 1 ||
		e[0].Version != 1 || e[0].Position != res.Events[0].Position || e[0].Metadata.CorrelationID != "corr-t1" ||
		e[0].Metadata.Actor != "admin" || string(e[0].Data) != `{"thingId":"t1","n":3}` {
		t.Fatalf("events = %s", body)
	}
	if code, _ := adminRequest(t, api, "GET", "/api/v1/admin/streams/nope/events"); code != 404 {
		t.Fatalf("unknown stream: %d, want 404", code)
	}
	// A bare aggregate id finds the stream "<type>-<id>".
	id := acme.NewID()
	byID := appendThing(t, alpha, id, 4)
	code, body = adminRequest(t, api, "GET", "/api/v1/admin/streams/"+id+"/events")
	if code != 200 || !strings.Contains(string(body), byID.Events[0].ID) {
		t.Fatalf("by bare id: %d %s", code, body)
	}
	if code, _ := adminRequest(t, api, "GET", "/api/v1/admin/streams/"+acme.NewID()+"/events"); code != 404 {
		t.Fatalf("unknown bare id: %d, want 404", code)
	}
	r := httptest.NewRequest("GET", "/api/v1/admin/streams/thing-t1/events", nil)
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d, want 401", w.Code)
	}
}

// Two processes running the same projection over one store: one applies (the
// lease holder), the other follows its checkpoint; a non-idempotent model is
// not doubled.
func TestProjectionHasOneWriterAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha := openStore(t, dir, "alpha")
	counter := es.Projection{
		Name: "alpha.count",
		Migrations: fstest.MapFS{"00001_count.sql": {Data: []byte(`-- +goose Up
CREATE TABLE IF NOT EXISTS alpha_count (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);
-- +goose Down
DROP TABLE alpha_count;
`)}},
		Apply: func(ctx context.Context, tx es.SQL, events []es.Event) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO alpha_count (id, n) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET n = alpha_count.n + excluded.n`, len(events))
			return err
		},
		Reset: func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM alpha_count`)
			return err
		},
	}
	var ps []*Platform
	for range 2 {
		p := newPlatform(t, bus, func(c *Config) { c.ProjectionBatch = 3 })
		p.Host("alpha", alpha).Project(counter)
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	var last es.Result
	for i := range 40 {
		last = appendThing(t, alpha, fmt.Sprintf("t%d", i), 1)
	}
	for _, p := range ps {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.Await(ctx, httpapi.Position{"alpha": last.Position}, []string{"alpha.count"}); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	var n int64
	if err := alpha.DB().QueryRowContext(context.Background(), `SELECT n FROM alpha_count WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Fatalf("count = %d, want 40 (each event applied once across both processes)", n)
	}
	var statuses []string
	for _, p := range ps {
		statuses = append(statuses, p.ReadModels(context.Background())[0].Status)
	}
	if !(statuses[0] == "running" && statuses[1] == "standby" || statuses[0] == "standby" && statuses[1] == "running") {
		t.Fatalf("statuses = %v, want one running and one standby", statuses)
	}

	// A rebuild asked of the standby process is run by the other one.
	if _, err := alpha.Commit(context.Background(), es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		_, err := tx.ExecContext(ctx, `UPDATE alpha_count SET n = 999 WHERE id = 1`)
		return err
	}}); err != nil {
		t.Fatal(err)
	}
	standby := ps[0]
	if statuses[1] == "standby" {
		standby = ps[1]
	}
	if err := standby.Rebuild(context.Background(), "alpha.count"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the rebuild asked of the standby process", func() bool {
		err := alpha.DB().QueryRowContext(context.Background(), `SELECT n FROM alpha_count WHERE id = 1`).Scan(&n)
		return err == nil && n == 40
	})
	if st := standby.ReadModels(context.Background())[0].Status; st != "standby" {
		t.Fatalf("the standby process says %q after asking for a rebuild", st)
	}
}

// ErrConcurrency on the handler's commit calls the handler again (it reloads);
// the message is applied once.
func TestConsumerRetriesHandlerOnConcurrencyConflict(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	p := newPlatform(t, bus, nil)
	p.Host("alpha", alpha)
	var calls atomic.Int64
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		expected := es.NoStream
		if calls.Add(1) == 1 {
			expected = 7 // a stale read: the stream is not at version 7
		}
		e := DoThing.New(acme.NewID(), doThing{ThingID: "copy"}, es.MetadataFrom(ctx))
		return es.Commit{Appends: []es.Append{{StreamID: "copy-" + m.ID, Expected: expected, Events: []es.Event{e}}}}, nil
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := appendThing(t, alpha, "t1", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": res.Position}, []string{"beta.things"}); err != nil {
		t.Fatal(err)
	}
	evs, err := beta.ReadStream(context.Background(), "copy-"+res.Events[0].ID, es.StreamQuery{})
	if err != nil || len(evs) != 1 || calls.Load() != 2 {
		t.Fatalf("events %d (%v), handler calls %d; want 1 event after 2 calls", len(evs), err, calls.Load())
	}
	if evs[0].Metadata.CausationID != res.Events[0].ID || evs[0].Metadata.CorrelationID != "corr-t1" {
		t.Fatalf("metadata of the consumer's event = %+v", evs[0].Metadata)
	}
}

// Close lets a handler in flight finish and acknowledges its message: a new
// process does not apply it again.
func TestCloseDrainsInFlight(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, bus, nil)
	p.Host("alpha", alpha)
	var calls atomic.Int64
	inHandler := make(chan struct{})
	inner := countingHandler(&calls)
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		close(inHandler)
		time.Sleep(300 * time.Millisecond)
		return inner(ctx, m)
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "t1", 1)
	select {
	case <-inHandler:
	case <-time.After(5 * time.Second):
		t.Fatal("handler not called")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := applied(t, beta, "t1"); n != 1 {
		t.Fatalf("in-flight message applied %d times at Close, want 1", n)
	}
	p2 := newPlatform(t, bus, nil)
	p2.Host("alpha", alpha)
	var calls2 atomic.Int64
	p2.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls2))
	if err := p2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if calls2.Load() != 0 {
		t.Fatalf("the message acknowledged at Close was delivered again (%d)", calls2.Load())
	}
}

func TestHandlerPanicIsRetriedThenDeadLettered(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	p := newPlatform(t, bus, func(c *Config) { c.MaxDeliveries = 2 })
	p.Host("alpha", alpha)
	var calls atomic.Int64
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		calls.Add(1)
		var nilMap map[string]int
		nilMap["boom"]++ // panics
		return es.Commit{}, nil
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "t1", 1)
	var dls []es.DeadLetter
	eventually(t, 10*time.Second, "the dead letter", func() bool {
		dls, _ = bus.DeadLetters(context.Background(), 0)
		return len(dls) == 1
	})
	if !strings.Contains(dls[0].Error, "panic") || calls.Load() != 2 {
		t.Fatalf("dead letter %+v after %d calls", dls[0], calls.Load())
	}
}

// Restarting on the same data directory (embedded bus and stores) continues
// where it stopped: nothing lost, nothing applied twice.
func TestRestartOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int64
	run := func(things ...string) {
		bus, err := natsbus.Embedded(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
		defer alpha.Close()
		defer beta.Close()
		migrateSeen(t, beta)
		p := newPlatform(t, bus, nil)
		defer p.Close()
		p.Host("alpha", alpha)
		p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var last es.Result
		for _, th := range things {
			last = appendThing(t, alpha, th, 1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Await(ctx, httpapi.Position{"alpha": last.Position}, nil); err != nil {
			t.Fatal(err)
		}
		for _, th := range []string{"a", "b", "c", "d"} {
			n := applied(t, beta, th)
			if n > 1 || n == 0 && strings.Contains(strings.Join(things, ""), th) {
				t.Fatalf("%s applied %d times", th, n)
			}
		}
	}
	run("a", "b")
	run("c", "d")
	if calls.Load() != 4 {
		t.Fatalf("handler called %d times over two runs, want 4", calls.Load())
	}
}

// Await waits for the token's messages, not for everything a busy consumer will
// ever receive: under a steady stream it still returns promptly.
func TestAwaitIsNotStarvedByABusyConsumer(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, bus, func(c *Config) { c.AwaitTimeout = 3 * time.Second })
	p.Host("alpha", alpha)
	var calls atomic.Int64
	inner := countingHandler(&calls)
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		time.Sleep(15 * time.Millisecond) // slower than the producer: a growing backlog
		return inner(ctx, m)
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				e := ThingHappened.New(acme.NewID(), thingHappened{ThingID: fmt.Sprintf("bg%d", i), N: 1}, es.Metadata{})
				_, _ = alpha.Commit(context.Background(), es.Commit{Appends: []es.Append{{StreamID: "bg", Expected: es.AnyVersion, Events: []es.Event{e}}}})
			}
		}
	}()
	defer func() { close(stop); <-done }()
	time.Sleep(300 * time.Millisecond) // a backlog has formed
	res := appendThing(t, alpha, "mine", 1)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": res.Position}, []string{"beta.things"}); err != nil {
		t.Fatalf("Await under a steady stream: %v after %s", err, time.Since(start))
	}
	if n := applied(t, beta, "mine"); n != 1 {
		t.Fatalf("Await returned before the token's message was applied (%d)", n)
	}
}

// Consumers are listed apart from the projections, and are not rebuilt from a log.
func TestAdminListsConsumersApartFromProjections(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	p := newPlatform(t, bus, nil)
	p.Host("alpha", alpha)
	var calls atomic.Int64
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
	migrateSeen(t, beta)
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New("tok")
	p.Routes(api)
	code, body := adminRequest(t, api, "GET", "/api/v1/admin/consumers")
	if code != 200 || !strings.Contains(string(body), `"name":"beta.things"`) {
		t.Fatalf("GET consumers: %d %s", code, body)
	}
	code, body = adminRequest(t, api, "GET", "/api/v1/admin/projections")
	if code != 200 || strings.Contains(string(body), "beta.things") {
		t.Fatalf("GET projections lists a consumer: %d %s", code, body)
	}
	if code, _ := adminRequest(t, api, "POST", "/api/v1/admin/projections/beta.things/rebuild"); code != 404 {
		t.Fatalf("rebuild of a consumer: %d, want 404", code)
	}
}

// TestCommitOutlivesASlowHandler: a handler that used up its deadline (a slow
// email send, done) still has its result stored; losing it would redeliver the
// message and repeat the send.
func TestCommitOutlivesASlowHandler(t *testing.T) {
	dir := t.TempDir()
	beta := openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, embeddedBus(t), nil)
	var calls atomic.Int64
	inner := countingHandler(&calls)
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		<-ctx.Done() // the send took all the time there was
		return inner(ctx, m)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	msg := es.Message{ID: acme.NewID(), Type: "ThingHappened", SchemaVersion: 1, Data: []byte(`{"thingId":"slow"}`)}
	if err := p.consumer("beta.things").apply(ctx, msg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if n := applied(t, beta, "slow"); n != 1 || calls.Load() != 1 {
		t.Fatalf("applied %d times, handler ran %d times; want 1 and 1", n, calls.Load())
	}
}

// TestRetryPolicyPerConsumer: a consumer with a retry policy of its own, or
// of the message's type, keeps trying past the platform's MaxDeliveries (a
// mail server back after a few failures); the others (one with a policy for
// another type only) dead-letter as before.
func TestRetryPolicyPerConsumer(t *testing.T) {
	dir := t.TempDir()
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, embeddedBus(t), func(c *Config) {
		c.MaxDeliveries = 2
		c.Retries = map[string]RetryPolicy{
			"beta.patient":               {MaxDeliveries: 6, MaxBackoff: 50 * time.Millisecond},
			"beta.typed/ThingHappened":   {MaxDeliveries: 6, MaxBackoff: 50 * time.Millisecond},
			"beta.untyped/OtherHappened": {MaxDeliveries: 6, MaxBackoff: 50 * time.Millisecond},
		}
	})
	p.Host("alpha", alpha)
	var calls, patientTries, hastyTries, typedTries, untypedTries atomic.Int64
	inner := countingHandler(&calls)
	failing := func(tries *atomic.Int64) es.Handler {
		return func(ctx context.Context, m es.Message) (es.Commit, error) {
			if tries.Add(1) <= 4 {
				return es.Commit{}, errors.New("mail server down")
			}
			return inner(ctx, m)
		}
	}
	h := p.Host("beta", beta)
	h.Consume("patient", []string{"ThingHappened"}, failing(&patientTries))
	h.Consume("hasty", []string{"ThingHappened"}, failing(&hastyTries))
	h.Consume("typed", []string{"ThingHappened"}, failing(&typedTries))
	h.Consume("untyped", []string{"ThingHappened"}, failing(&untypedTries))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "t1", 1)
	eventually(t, 15*time.Second, "the patient and typed consumers' successes and the others' dead letters", func() bool {
		dls, err := p.cfg.Bus.DeadLetters(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		var who []string
		for _, dl := range dls {
			who = append(who, dl.Consumer)
		}
		slices.Sort(who)
		return calls.Load() == 2 && slices.Equal(who, []string{"beta.hasty", "beta.untyped"})
	})
	if patientTries.Load() != 5 || typedTries.Load() != 5 || hastyTries.Load() != 2 || untypedTries.Load() != 2 {
		t.Fatalf("deliveries: patient %d, typed %d (want 5 each), hasty %d, untyped %d (want 2 each)",
			patientTries.Load(), typedTries.Load(), hastyTries.Load(), untypedTries.Load())
	}
}

// TestSlowHandlerIsNotRedelivered: a delivery the consumer holds is not
// given to another consumer while its handler runs, however long past
// AckWait (the heartbeat); AckWait is only how soon a dead process's
// deliveries move on.
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	dir := t.TempDir()
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, embeddedBus(t), func(c *Config) { c.AckWait = 300 * time.Millisecond })
	p.Host("alpha", alpha)
	var calls, deliveries atomic.Int64
	inner := countingHandler(&calls)
	p.Host("beta", beta).Consume("slow", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		deliveries.Add(1)
		time.Sleep(1500 * time.Millisecond) // five times AckWait
		return inner(ctx, m)
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "t1", 1)
	eventually(t, 10*time.Second, "the slow handler's commit", func() bool { return applied(t, beta, "t1") == 1 })
	time.Sleep(600 * time.Millisecond) // two more AckWaits: a redelivery would have come
	if n := deliveries.Load(); n != 1 {
		t.Fatalf("the slow message was delivered %d times, want 1", n)
	}
}

// TestDeadLetterRetriedFromTwoProcessesAtOnce: retries of one dead letter
// sent to two processes at the same moment run one at a time across them
// (a bus lease): the handler runs once per retry that is not refused, and
// the dead letter whose retries failed is listed once, under its id.
func TestDeadLetterRetriedFromTwoProcessesAtOnce(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	var runs, running, overlapped atomic.Int64
	broken := func(ctx context.Context, m es.Message) (es.Commit, error) {
		runs.Add(1)
		if running.Add(1) > 1 {
			overlapped.Add(1)
		}
		defer running.Add(-1)
		time.Sleep(100 * time.Millisecond)
		return es.Commit{}, errors.New("downstream unavailable")
	}
	var ps []*Platform
	for range 2 {
		p := newPlatform(t, bus, func(c *Config) { c.MaxDeliveries = 1 })
		p.Host("alpha", alpha)
		p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, broken)
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	appendThing(t, alpha, "t1", 1)
	var dls []es.DeadLetter
	eventually(t, 10*time.Second, "the dead letter", func() bool {
		dls, _ = bus.DeadLetters(context.Background(), 0)
		return len(dls) == 1
	})
	id := dls[0].ID
	before := runs.Load()
	errs := make([]error, 6)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = ps[i%2].RetryDeadLetter(context.Background(), id) })
	}
	wg.Wait()
	ran := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, errRetryFailed):
			ran++
		case acme.ErrorCode(err) == acme.CodeConflict, acme.ErrorCode(err) == acme.CodeNotFound:
		default:
			t.Fatalf("retry: %v", err)
		}
	}
	if ran == 0 || runs.Load()-before != int64(ran) || overlapped.Load() != 0 {
		t.Fatalf("%d retries ran, the handler %d times, %d overlapping", ran, runs.Load()-before, overlapped.Load())
	}
	dls, _ = bus.DeadLetters(context.Background(), 0)
	if len(dls) != 1 || dls[0].ID != id {
		t.Fatalf("dead letters after the retries: %+v, want one with id %s", dls, id)
	}
}

// TestConsumerPositionsAreDurableAndShared: a consumer's position is the
// source log's position it has applied through, the same from a process
// that applied nothing itself (server mode: several processes on one
// store), and after a restart.
func TestConsumerPositionsAreDurableAndShared(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, bus, nil)
	p.Host("alpha", alpha)
	var calls atomic.Int64
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var last es.Result
	for i := range 3 {
		last = appendThing(t, alpha, fmt.Sprintf("t%d", i), i)
	}
	want := last.Position
	position := func(p *Platform) (int64, map[string]int64) {
		for _, rm := range p.ReadModels(context.Background()) {
			if rm.Name == "beta.things" {
				return rm.Position, rm.Positions
			}
		}
		t.Fatal("beta.things not listed")
		return 0, nil
	}
	eventually(t, 10*time.Second, "the consumer's position at the log's head", func() bool {
		pos, all := position(p)
		return pos == want && all["alpha"] == want
	})
	// Another process on the same stores (registered, not started: it
	// applies nothing) sees it within a second of the first one writing it.
	other := newPlatform(t, embeddedBus(t), nil)
	other.Host("alpha", alpha)
	other.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
	eventually(t, 10*time.Second, "the other process's view", func() bool {
		_, all := position(other)
		return all["alpha"] == want
	})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// After a restart, before anything new is applied.
	p2 := newPlatform(t, bus, nil)
	p2.Host("alpha", alpha)
	p2.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
	if err := p2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pos, _ := position(p2); pos != want {
		t.Fatalf("after a restart: position %d, want %d", pos, want)
	}
}
