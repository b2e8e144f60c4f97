package platform

import (
	"context"
	"fmt"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
)

var _ httpapi.Awaiter = (*Platform)(nil)

// Await returns nil once, for each (context, position) in pos, that context's
// relay has published through position and every read model named in reads
// (consumers "<context>.<name>" and projections by name; all of this process's
// when reads is empty) has applied or passed it:
//   - a projection of that context has applied the log through position
//     (projections of other contexts are not concerned);
//   - a consumer has acknowledged every message stored on its subjects when
//     the relays had published through the token (a consumer with nothing
//     pending is caught up; messages published later are not waited for).
//
// It gives up with stale_read_model after Config.AwaitTimeout (5 s) or returns
// ctx.Err() (wrapped) when ctx ends first. An unknown read-model name is an error.
func (p *Platform) Await(ctx context.Context, pos httpapi.Position, reads []string) error {
	projs, cons, err := p.targets(reads)
	if err != nil {
		return err
	}
	w := &awaited{marks: map[*consumer]es.Watermark{}}
	timeout := time.NewTimer(p.cfg.AwaitTimeout)
	defer timeout.Stop()
	second := false
	for {
		wake := p.progress.C()
		ok, err := p.caughtUp(ctx, pos, projs, cons, w)
		if err != nil {
			return err
		}
		if ok && !second {
			// A consumer may have appended what another read model consumes
			// in turn (the rating aggregator's RatingUpdated, which search
			// shows; inventory's InventoryReleased for an order's
			// cancellation, which search and the cart show): one more round,
			// through those logs' heads as they are now.
			second = true
			next, err := p.moved(ctx, pos, cons)
			if err != nil {
				return err
			}
			if len(next) > 0 {
				pos, w, ok = next, &awaited{marks: map[*consumer]es.Watermark{}}, false
			}
		}
		if ok {
			return nil
		}
		// Progress in this process wakes us at once; other processes' progress
		// (a relay or a consumer elsewhere) is seen by the short re-check.
		checked := time.Now()
		select {
		case <-wake:
			// Many signals arrive under load; each check may ask the bus, so
			// check at most every 2 ms.
			if d := 2*time.Millisecond - time.Since(checked); d > 0 {
				time.Sleep(d)
			}
		case <-time.After(20 * time.Millisecond):
		case <-timeout.C:
			return acme.Errorf(acme.CodeStaleReadModel, "the read models did not reach the requested position within %s; retry later", p.cfg.AwaitTimeout)
		case <-ctx.Done():
			return fmt.Errorf("await: %w", ctx.Err())
		}
	}
}

// moved returns, for each context that runs one of cons here, its log's head
// when that has moved past pos (nil when none has). A consumer's context need
// not be in pos: inventory's command consumer, run by an order's
// cancellation, appends InventoryReleased to a log the token does not name.
// Its head as it is now covers what the consumer appended for the token.
func (p *Platform) moved(ctx context.Context, pos httpapi.Position, cons []*consumer) (httpapi.Position, error) {
	var next httpapi.Position
	seen := map[*host]bool{}
	for _, c := range cons {
		if seen[c.h] {
			continue
		}
		seen[c.h] = true
		head, err := c.h.store.Head(ctx)
		if err != nil {
			return nil, err
		}
		if head > pos[c.h.name] {
			if next == nil {
				next = httpapi.Position{}
			}
			next[c.h.name] = head
		}
	}
	return next, nil
}

func (p *Platform) targets(reads []string) ([]*projection, []*consumer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var projs []*projection
	var cons []*consumer
	byName := map[string]any{}
	for _, n := range p.order {
		h := p.hosts[n]
		for _, x := range h.projections {
			byName[x.p.Name] = x
		}
		for _, c := range h.consumers {
			byName[c.full] = c
		}
	}
	if len(reads) == 0 {
		for _, n := range p.order {
			projs = append(projs, p.hosts[n].projections...)
			cons = append(cons, p.hosts[n].consumers...)
		}
		return projs, cons, nil
	}
	for _, r := range reads {
		switch v := byName[r].(type) {
		case *projection:
			projs = append(projs, v)
		case *consumer:
			cons = append(cons, v)
		default:
			return nil, nil, fmt.Errorf("platform: await: unknown read model %q", r)
		}
	}
	return projs, cons, nil
}

// awaited is what Await has settled so far: each consumer's watermark, and
// the log heads the projections must reach once the consumers are done.
type awaited struct {
	marks map[*consumer]es.Watermark
	heads map[*host]int64 // nil until every consumer has caught up
}

// caughtUp checks the token. A consumer's watermark is taken (once, into marks)
// after every relay of the token has published through its position, so it
// covers the token's messages and not the ones published after: a busy
// consumer is not waited for beyond the token.
//
// Projections are checked last. A consumer may append to its context's log
// what a projection of that context turns into a read model (the rating
// aggregator's RatingUpdated, which the rating cache serves): once the
// consumers are done, such a projection must also reach its log's head as it
// was then, not only the token's position.
func (p *Platform) caughtUp(ctx context.Context, pos httpapi.Position, projs []*projection, cons []*consumer, w *awaited) (bool, error) {
	for ctxName, want := range pos {
		h := p.host(ctxName)
		if h == nil {
			continue // a context this process does not run: nothing here reads it directly
		}
		got, err := h.relay.position(ctx)
		if err != nil {
			return false, err
		}
		if got < want {
			return false, nil
		}
	}
	if len(pos) == 0 {
		return true, nil
	}
	if w.heads == nil {
		for _, c := range cons {
			if c.sub == nil {
				return false, nil // not started
			}
			m, ok := w.marks[c]
			if !ok {
				var err error
				if m, err = c.sub.Watermark(ctx); err != nil {
					return false, err
				}
				w.marks[c] = m
			}
			ok, err := c.sub.Reached(ctx, m)
			if err != nil || !ok {
				return false, err
			}
		}
		heads := map[*host]int64{}
		for _, c := range cons {
			if _, done := heads[c.h]; done || !hasProjectionOf(projs, c.h) {
				continue
			}
			head, err := c.h.store.Head(ctx)
			if err != nil {
				return false, err
			}
			heads[c.h] = head
		}
		w.heads = heads
	}
	for _, x := range projs {
		want, ok := pos[x.h.name]
		if head, fed := w.heads[x.h]; fed && head > want {
			want, ok = head, true
		}
		if ok && x.position.Load() < want {
			return false, nil
		}
	}
	return true, nil
}

func hasProjectionOf(projs []*projection, h *host) bool {
	for _, x := range projs {
		if x.h == h {
			return true
		}
	}
	return false
}

// Head returns the position of the last event committed in contextName's log, if
// this process runs that context (ok false otherwise).
func (p *Platform) Head(ctx context.Context, contextName string) (pos int64, ok bool, err error) {
	h := p.host(contextName)
	if h == nil {
		return 0, false, nil
	}
	pos, err = h.store.Head(ctx)
	return pos, err == nil, err
}

func (p *Platform) host(name string) *host {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hosts[name]
}
