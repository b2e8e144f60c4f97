package sqlite

import (
	"slices"
	"sync"
	"sync/atomic"

	"acme/es"
)

// streamCache keeps the recent events of streams this process wrote, so an
// aggregate's load (ReadStream) need not read them back: those reads were a
// tenth of a checkout's CPU. An entry holds every event of its stream from
// version base on, up to the stream's latest version; it is created and
// extended by this process's commits only (after COMMIT, before the
// committer is answered). That holds while no other process writes the
// file: the first sign of one (the writer finds the head moved without it)
// turns the cache off for good. A read between another process's commit and
// that sign can be stale: a command's commit then fails its expected version
// (which is that sign) and its retry reads SQL.
type streamCache struct {
	off atomic.Bool

	mu      sync.Mutex
	streams map[string]*cachedStream
}

type cachedStream struct {
	base   int64      // version of events[0]
	events []es.Event // versions base, base+1, ... (the stream's latest last)
}

// Bounds of the cache: streams kept, and events kept per stream (a longer
// stream is dropped; its loads start from a snapshot anyway).
const (
	streamCacheStreams = 4096
	streamCacheEvents  = 256
)

func newStreamCache() *streamCache { return &streamCache{streams: map[string]*cachedStream{}} }

// disable turns the cache off: another process writes the file.
func (c *streamCache) disable() {
	if c.off.Swap(true) {
		return
	}
	c.mu.Lock()
	c.streams = map[string]*cachedStream{}
	c.mu.Unlock()
}

// add records committed events (in commit order).
func (c *streamCache) add(events []es.Event) {
	if len(events) == 0 || c.off.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		e.Data = slices.Clone(e.Data) // the committer's buffer stays its own
		s := c.streams[e.StreamID]
		switch {
		case s == nil:
			if len(c.streams) >= streamCacheStreams {
				for k := range c.streams { // evict one, any
					delete(c.streams, k)
					break
				}
			}
			c.streams[e.StreamID] = &cachedStream{base: e.Version, events: []es.Event{e}}
		case s.base+int64(len(s.events)) == e.Version && len(s.events) < streamCacheEvents:
			s.events = append(s.events, e)
		default: // not contiguous (cannot happen while we are the only writer), or too long
			delete(c.streams, e.StreamID)
		}
	}
}

// read answers ReadStream's filter from the cache; ok is false when the
// stream is not cached from q.FromVersion on.
func (c *streamCache) read(streamID string, from, to, asOf int64) (events []es.Event, ok bool) {
	if c.off.Load() {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	from = max(from, 1)
	s := c.streams[streamID]
	if s == nil || from < s.base {
		return nil, false
	}
	out := make([]es.Event, 0, len(s.events))
	for _, e := range s.events[min(from-s.base, int64(len(s.events))):] {
		if e.Version > to {
			break
		}
		if e.RecordedAt.UnixMicro() <= asOf {
			out = append(out, e)
		}
	}
	return out, true
}
