package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme/es"
	"acme/httpapi"
)

// Keyed workers apply each source stream's messages in order, and different
// streams in parallel.
func TestKeyedWorkersKeepStreamOrderAndRunStreamsInParallel(t *testing.T) {
	const lanes, perStream = 4, 15
	// four streams that land on four different lanes
	var things []string
	used := map[int]bool{}
	for i := 0; len(things) < lanes; i++ {
		th := fmt.Sprintf("k%d", i)
		if l := lane("thing-"+th, lanes); !used[l] {
			used[l] = true
			things = append(things, th)
		}
	}
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	p := newPlatform(t, bus, func(c *Config) { c.KeyedWorkers = map[string]int{"beta.things": lanes} })
	p.Host("alpha", alpha)
	var (
		mu              sync.Mutex
		seen            = map[string][]int{}
		running, maxRun atomic.Int64
	)
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for old := maxRun.Load(); n > old && !maxRun.CompareAndSwap(old, n); old = maxRun.Load() {
		}
		var v thingHappened
		if err := json.Unmarshal(m.Data, &v); err != nil {
			return es.Commit{}, es.Permanent(err)
		}
		time.Sleep(3 * time.Millisecond) // work that takes time, so lanes overlap
		mu.Lock()
		seen[v.ThingID] = append(seen[v.ThingID], v.N)
		mu.Unlock()
		return es.Commit{}, nil
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var last es.Result
	for n := 1; n <= perStream; n++ {
		for _, th := range things {
			last = appendThing(t, alpha, th, n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": last.Position}, []string{"beta.things"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, th := range things {
		got := seen[th]
		if len(got) != perStream {
			t.Fatalf("stream %s: applied %v; want %d messages", th, got, perStream)
		}
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("stream %s applied out of order: %v", th, got)
			}
		}
	}
	if maxRun.Load() < 2 {
		t.Fatalf("at most %d handler ran at once; want streams applied in parallel", maxRun.Load())
	}
}
