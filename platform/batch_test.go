package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme/es"
	"acme/httpapi"
	"acme/natsbus"
	"acme/postgres"
	"acme/testenv"
)

// batchMode is where the batch consumer tests run: the embedded default
// (SQLite stores, embedded NATS) and server mode (PostgreSQL stores, an
// external NATS server).
type batchMode struct {
	name  string
	setup func(t *testing.T) (*natsbus.Bus, func(name string) es.Store)
}

var batchModes = []batchMode{
	{"embedded", func(t *testing.T) (*natsbus.Bus, func(string) es.Store) {
		dir := t.TempDir()
		return embeddedBus(t), func(name string) es.Store { return openStore(t, dir, name) }
	}},
	{"server", func(t *testing.T) (*natsbus.Bus, func(string) es.Store) {
		bus := externalBus(t)
		return bus, func(name string) es.Store {
			pgURL, schema := testenv.PostgresSchema(t, "platformtest_"+name+"_")
			s, err := postgres.Open(context.Background(), pgURL, schema)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}},
}

// batchFixture runs beta's batch consumer "things" over alpha's
// ThingHappened events. The handler's first call waits for release, so the
// test can let a backlog build up on the bus first.
type batchFixture struct {
	p     *Platform
	alpha es.Store
	beta  es.Store
	bus   interface {
		DeadLetters(context.Context, int) ([]es.DeadLetter, error)
	}
	release chan struct{}

	mu    sync.Mutex
	sizes []int          // batch sizes of the handler's calls
	order []int          // n of the messages committed, in commit order
	calls map[string]int // per thing: calls whose batch held it
	alone map[string]int // per thing: calls with it alone
}

// newBatchFixture starts the platform; fail says which things the handler
// refuses (a one-message call gets a permanent error, a batch an ordinary one).
func newBatchFixture(t *testing.T, mode batchMode, fail func(thing string) bool) *batchFixture {
	bus, open := mode.setup(t)
	f := &batchFixture{bus: bus, release: make(chan struct{}), calls: map[string]int{}, alone: map[string]int{}}
	f.alpha, f.beta = open("alpha"), open("beta")
	migrateSeen(t, f.beta)
	f.p = newPlatform(t, bus, nil)
	f.p.Host("alpha", f.alpha)
	var first atomic.Bool
	f.p.Host("beta", f.beta).ConsumeBatch("things", []string{"ThingHappened"}, func(ctx context.Context, ms []es.Message) (es.Commit, error) {
		if first.CompareAndSwap(false, true) {
			<-f.release
		}
		vs := make([]thingHappened, len(ms))
		bad := false
		f.mu.Lock()
		f.sizes = append(f.sizes, len(ms))
		for i, m := range ms {
			if err := json.Unmarshal(m.Data, &vs[i]); err != nil {
				f.mu.Unlock()
				return es.Commit{}, es.Permanent(err)
			}
			f.calls[vs[i].ThingID]++
			if len(ms) == 1 {
				f.alone[vs[i].ThingID]++
			}
			bad = bad || fail(vs[i].ThingID)
		}
		f.mu.Unlock()
		if bad && len(ms) == 1 {
			return es.Commit{}, es.Permanent(fmt.Errorf("thing %s refused", vs[0].ThingID))
		}
		if bad {
			return es.Commit{}, fmt.Errorf("batch holds a refused thing")
		}
		return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			for _, v := range vs {
				if _, err := tx.ExecContext(ctx, `INSERT INTO beta_seen (thing_id, applied) VALUES ($1, 1)
ON CONFLICT (thing_id) DO UPDATE SET applied = beta_seen.applied + 1`, v.ThingID); err != nil {
					return err
				}
			}
			f.mu.Lock()
			for _, v := range vs {
				f.order = append(f.order, v.N)
			}
			f.mu.Unlock()
			return nil
		}}, nil
	})
	if err := f.p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

// backlog appends n things (one stream, n = 1..n), waits until the bus holds
// all of them for the consumer, and releases the handler.
func (f *batchFixture) backlog(t *testing.T, things []string) es.Result {
	var last es.Result
	for i, th := range things {
		e := ThingHappened.New(f.p.cfg.NewID(), thingHappened{ThingID: th, N: i + 1}, es.Metadata{})
		res, err := f.alpha.Commit(context.Background(), es.Commit{Appends: []es.Append{{StreamID: "thing-all", StreamType: "thing", Expected: es.AnyVersion, Events: []es.Event{e}}}})
		if err != nil {
			t.Fatal(err)
		}
		last = res
	}
	c := f.p.hosts["beta"].consumers[0]
	eventually(t, 10*time.Second, "the backlog on the bus", func() bool {
		n, err := c.sub.Pending(context.Background())
		return err == nil && n >= int64(len(things))
	})
	close(f.release)
	return last
}

// A batch consumer applies a backlog in few commits, each message once and in
// bus order.
func TestBatchConsumerAppliesBacklogInBatchesOnceInOrder(t *testing.T) {
	for _, mode := range batchModes {
		t.Run(mode.name, func(t *testing.T) { testBatchBacklog(t, mode) })
	}
}

func testBatchBacklog(t *testing.T, mode batchMode) {
	f := newBatchFixture(t, mode, func(string) bool { return false })
	var things []string
	for i := range 300 {
		things = append(things, fmt.Sprintf("b%d", i))
	}
	last := f.backlog(t, things)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.p.Await(ctx, httpapi.Position{"alpha": last.Position}, []string{"beta.things"}); err != nil {
		t.Fatal(err)
	}
	for _, th := range things {
		if n := applied(t, f.beta, th); n != 1 {
			t.Fatalf("%s applied %d times", th, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) != len(things) || !slices.IsSorted(f.order) {
		t.Fatalf("committed out of order or not once: %v", f.order)
	}
	if len(f.sizes) > len(things)/4 {
		t.Fatalf("%d calls for %d messages (sizes %v): the backlog was not batched", len(f.sizes), len(things), f.sizes)
	}
}

// A message its handler refuses fails only itself: its batch falls back to
// one message at a time, the refused one is dead-lettered alone at its first
// delivery and the others are applied once, in order.
func TestBatchConsumerSettlesAPoisonMessageAlone(t *testing.T) {
	for _, mode := range batchModes {
		t.Run(mode.name, func(t *testing.T) { testBatchPoison(t, mode) })
	}
}

func testBatchPoison(t *testing.T, mode batchMode) {
	f := newBatchFixture(t, mode, func(th string) bool { return th == "poison" })
	var things []string
	for i := range 100 {
		th := fmt.Sprintf("p%d", i)
		if i == 50 {
			th = "poison"
		}
		things = append(things, th)
	}
	last := f.backlog(t, things)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.p.Await(ctx, httpapi.Position{"alpha": last.Position}, []string{"beta.things"}); err != nil {
		t.Fatal(err)
	}
	var dls []es.DeadLetter
	eventually(t, 10*time.Second, "the dead letter", func() bool {
		dls, _ = f.bus.DeadLetters(context.Background(), 0)
		return len(dls) == 1
	})
	if dls[0].Deliveries != 1 || dls[0].Consumer != "beta.things" {
		t.Fatalf("dead letter %+v: want beta.things at its first delivery", dls[0])
	}
	for _, th := range things {
		want := int64(1)
		if th == "poison" {
			want = 0
		}
		if n := applied(t, f.beta, th); n != want {
			t.Fatalf("%s applied %d times, want %d", th, n, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.alone["poison"] != 1 {
		t.Fatalf("the poison message was handled alone %d times, want once", f.alone["poison"])
	}
	if len(f.order) != len(things)-1 || !slices.IsSorted(f.order) {
		t.Fatalf("committed out of order or not once: %v", f.order)
	}
}
