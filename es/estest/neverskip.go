package estest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme/es"
)

// NeverSkipEvents is how many events the never-skip test writes (at least);
// -short writes a tenth.
var NeverSkipEvents = 20_000

// RunNeverSkip runs only the never-skip test, for a top-level test that
// `go test -race -count=5 -run NeverSkip` selects (RunStore runs it too).
func RunNeverSkip(t *testing.T, open func(t *testing.T) es.Store) { testNeverSkip(t, open(t)) }

// testNeverSkip: 16 concurrent writers append to random streams (single-event
// and multi-event, multi-stream commits, with and without version checks)
// while a reader tails the global log with ReadAll + Wait. The reader must see
// every committed event exactly once, at strictly increasing, gap-free
// positions, and the set it saw must equal the set written.
func testNeverSkip(t *testing.T, s es.Store) {
	const writers, streams = 16, 97
	total := NeverSkipEvents
	if testing.Short() {
		total /= 10
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	h0 := head(t, s)

	var budget atomic.Int64 // events still to write
	budget.Store(int64(total))
	written := make([][]string, writers)
	var wg sync.WaitGroup
	var failed atomic.Bool
	fail := func(format string, args ...any) {
		failed.Store(true)
		t.Errorf(format, args...)
		cancel()
	}
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for !failed.Load() {
				// 1 event in 60% of commits, else 2..8 events in one or two streams.
				n := 1
				if rng.IntN(10) >= 6 {
					n = 2 + rng.IntN(7)
				}
				if budget.Add(-int64(n)) <= -int64(n) { // the budget was used up
					return
				}
				var c es.Commit
				var ids []string
				split := n
				if n > 1 && rng.IntN(2) == 0 {
					split = n / 2
				}
				for part, count := range []int{split, n - split} {
					if count == 0 {
						continue
					}
					stream := fmt.Sprintf("skip-%d", rng.IntN(streams))
					if part == 1 && len(c.Appends) == 1 && c.Appends[0].StreamID == stream {
						stream += "-b"
					}
					a := es.Append{StreamID: stream, StreamType: "skip", Expected: es.AnyVersion}
					for i := range count {
						e := Ev("Skipped", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
						a.Events = append(a.Events, e)
						ids = append(ids, e.ID)
					}
					c.Appends = append(c.Appends, a)
				}
				checked := rng.IntN(2) == 0 // half the commits check the version of their first stream
				for attempt := 0; ; attempt++ {
					if checked {
						v, err := s.StreamVersion(ctx, c.Appends[0].StreamID)
						if err != nil {
							fail("writer %d: StreamVersion: %v", w, err)
							return
						}
						c.Appends[0].Expected = v
					}
					_, err := s.Commit(ctx, c)
					if errors.Is(err, es.ErrConcurrency) && checked && attempt < 1000 {
						continue // nothing was stored; retry with the same ids
					}
					if err != nil {
						fail("writer %d: Commit: %v", w, err)
						return
					}
					break
				}
				written[w] = append(written[w], ids...)
			}
		})
	}

	// The reader tails the log until the writers are done and it reached the end.
	var target atomic.Int64 // the head after the writers finished; 0 while they run
	seen := make(map[string]int64, total)
	readerDone := make(chan struct{})
	var wakeups, batches int
	go func() {
		defer close(readerDone)
		pos := h0
		for !failed.Load() {
			evs, err := s.ReadAll(ctx, pos, 512)
			if err != nil {
				fail("reader: ReadAll(%d): %v", pos, err)
				return
			}
			for _, e := range evs {
				if e.Position != pos+1 {
					fail("reader: position %d after %d: skipped or reordered", e.Position, pos)
					return
				}
				if at, dup := seen[e.ID]; dup {
					fail("reader: event %s seen twice (positions %d and %d)", e.ID, at, e.Position)
					return
				}
				seen[e.ID] = e.Position
				pos = e.Position
			}
			if len(evs) > 0 {
				batches++
				continue
			}
			if tg := target.Load(); tg > 0 && pos >= tg {
				return
			}
			wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			err = s.Wait(wctx, pos)
			wcancel()
			switch {
			case err == nil:
				wakeups++
			case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			default:
				fail("reader: Wait(%d): %v", pos, err)
				return
			}
		}
	}()
	wg.Wait()
	if !failed.Load() {
		tg := head(t, s)
		if tg == h0 {
			tg = h0 + 1 // nothing written (a failure above): let the reader stop
		}
		target.Store(tg)
	}
	<-readerDone
	if failed.Load() {
		return
	}
	var all []string
	for _, ids := range written {
		all = append(all, ids...)
	}
	if len(all) < total {
		t.Fatalf("wrote %d events, want >= %d", len(all), total)
	}
	if len(seen) != len(all) {
		t.Errorf("reader saw %d events, writers stored %d", len(seen), len(all))
	}
	for _, id := range all {
		if _, ok := seen[id]; !ok {
			t.Fatalf("event %s was written but never seen by the reader", id)
		}
	}
	if h := head(t, s); h != h0+int64(len(all)) {
		t.Fatalf("head %d, want %d: positions are not gap-free", h, h0+int64(len(all)))
	}
	t.Logf("%d events, reader: %d batches, %d wake-ups", len(all), batches, wakeups)
}
