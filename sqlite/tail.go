package sqlite

import (
	"slices"
	"sync"

	"acme/es"
)

// tailCache keeps the newest events this process committed, so ReadAll can
// answer the relays and projections (which read what was just written, a few
// events at a time) without reading the rows back. It holds only committed
// events: they are added after COMMIT, before readers are woken. Another
// process writing the same file leaves gaps in the cached positions; a read
// is answered from a contiguous run starting exactly at after+1, and ReadAll
// asks SQL for what lies past a gap.
type tailCache struct {
	mu       sync.Mutex
	ring     []es.Event // ring[(start+i)%len(ring)] for i < n, positions increasing
	start, n int
}

// tailCacheSize is how many events the cache keeps.
const tailCacheSize = 4096

func newTailCache(size int) *tailCache { return &tailCache{ring: make([]es.Event, size)} }

// add appends committed events (in position order, after every earlier add).
func (c *tailCache) add(events []es.Event) {
	if c == nil || len(events) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		e.Data = slices.Clone(e.Data) // the committer's buffer stays its own
		if c.n == len(c.ring) {
			c.ring[c.start] = e
			c.start = (c.start + 1) % len(c.ring)
			continue
		}
		c.ring[(c.start+c.n)%len(c.ring)] = e
		c.n++
	}
}

// read returns up to limit events from position after+1 on, while positions
// stay contiguous; ok is false when after+1 is not in the cache, gap is true
// when the run stopped short of limit at a gap in the cached positions.
func (c *tailCache) read(after int64, limit int) (events []es.Event, ok, gap bool) {
	if c == nil {
		return nil, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	at := func(i int) *es.Event { return &c.ring[(c.start+i)%len(c.ring)] }
	lo, hi := 0, c.n // binary search: positions increase along the ring
	for lo < hi {
		mid := (lo + hi) / 2
		if at(mid).Position <= after {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == c.n || at(lo).Position != after+1 {
		return nil, false, false
	}
	out := make([]es.Event, 0, min(limit, c.n-lo))
	i := lo
	for next := after + 1; i < c.n && len(out) < limit && at(i).Position == next; i, next = i+1, next+1 {
		out = append(out, *at(i))
	}
	return out, true, len(out) < limit && i < c.n
}
