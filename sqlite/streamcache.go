package sqlite

import (
	"slices"
	"sync"

	"acme/es"
)

// streamCache keeps the recent events of streams this process wrote, so an
// aggregate's load (ReadStream) need not read them back: those reads were a
// tenth of a checkout's CPU. It exists only for a store opened WithExclusive
// (no other process writes the file). An entry holds every event of its
// stream from version base on, up to the stream's latest version: entries
// are created and extended by this process's commits only. While a
// transaction commits, the streams it wrote are held: reads of them go to
// SQL until the new events are in (a reader must never see a read model
// already committed beside a stream not yet extended).
type streamCache struct {
	mu      sync.Mutex
	streams map[string]*cachedStream
	bytes   int // payload bytes held, bounded by streamCacheBytes
	off     bool
}

type cachedStream struct {
	base   int64      // version of events[0]
	events []es.Event // versions base, base+1, ... (the stream's latest last)
	bytes  int
	held   int // commits in progress on this stream
}

// Bounds of the cache: payload bytes (about, per store), streams, and events
// per stream (a longer stream is dropped and starts again with its next
// write; its loads start from a snapshot anyway).
const (
	streamCacheBytes   = 32 << 20
	streamCacheStreams = 4096
	streamCacheEvents  = 256
)

func newStreamCache() *streamCache { return &streamCache{streams: map[string]*cachedStream{}} }

func eventBytes(e es.Event) int { return len(e.Data) + len(e.StreamID) + 256 }

// disable turns the cache off: another process appended after all.
func (c *streamCache) disable() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.off, c.streams, c.bytes = true, map[string]*cachedStream{}, 0
	c.mu.Unlock()
}

// hold marks the streams of events as being committed (before COMMIT).
func (c *streamCache) hold(events []es.Event) { c.mark(events, 1) }

// unhold undoes hold for a transaction that did not commit.
func (c *streamCache) unhold(events []es.Event) { c.mark(events, -1) }

func (c *streamCache) mark(events []es.Event, d int) {
	if c == nil || len(events) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markLocked(events, d)
}

// markLocked adds d to the hold of each cached stream of events, once per run
// of its events (as hold counted them), never below zero.
func (c *streamCache) markLocked(events []es.Event, d int) {
	prev := ""
	for _, e := range events {
		if e.StreamID == prev {
			continue
		}
		prev = e.StreamID
		if s := c.streams[e.StreamID]; s != nil {
			s.held = max(s.held+d, 0)
		}
	}
}

// add records committed events (in commit order) and lifts their hold.
func (c *streamCache) add(events []es.Event) {
	if c == nil || len(events) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markLocked(events, -1)
	if c.off {
		return
	}
	for _, e := range events {
		s := c.streams[e.StreamID]
		e.Data = slices.Clone(e.Data) // the committer's buffer stays its own
		n := eventBytes(e)
		switch {
		case s == nil:
			c.evict(n)
			c.streams[e.StreamID] = &cachedStream{base: e.Version, events: []es.Event{e}, bytes: n}
			c.bytes += n
		case s.base+int64(len(s.events)) == e.Version && len(s.events) < streamCacheEvents:
			c.evict(n)
			s.events = append(s.events, e)
			s.bytes += n
			c.bytes += n
		default: // not contiguous (cannot happen while we are the only writer), or too long
			c.drop(e.StreamID, s)
		}
	}
}

// evict makes room for n more bytes and one more stream: it drops streams
// (any; the map's order) that are not being committed.
func (c *streamCache) evict(n int) {
	for id, s := range c.streams {
		if c.bytes+n <= streamCacheBytes && len(c.streams) < streamCacheStreams {
			return
		}
		if s.held == 0 {
			c.drop(id, s)
		}
	}
}

func (c *streamCache) drop(id string, s *cachedStream) {
	if s.held > 0 { // keep the hold: the commit in progress lifts it
		c.bytes -= s.bytes
		s.events, s.bytes, s.base = nil, 0, 1<<62
		return
	}
	c.bytes -= s.bytes
	delete(c.streams, id)
}

// read answers ReadStream's filter from the cache; ok is false when the
// stream is not cached from version from on, or is being committed.
func (c *streamCache) read(streamID string, from, to, asOf int64) (events []es.Event, ok bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	from = max(from, 1)
	s := c.streams[streamID]
	if c.off || s == nil || s.held > 0 || len(s.events) == 0 || from < s.base {
		return nil, false
	}
	rest := s.events[min(from-s.base, int64(len(s.events))):]
	out := make([]es.Event, 0, len(rest))
	for _, e := range rest {
		if e.Version > to {
			break
		}
		if e.RecordedAt.UnixMicro() <= asOf {
			out = append(out, e)
		}
	}
	return out, true
}
