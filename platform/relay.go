package platform

import (
	"context"
	"sync/atomic"
	"time"

	"acme/es"
)

// relay publishes one context's log to the bus: it holds the context's lease,
// tails the store from the "relay" checkpoint, publishes each batch (async
// publishes, all acknowledged), then advances the checkpoint. A crash between
// publish and checkpoint re-publishes the batch with the same message ids,
// which the bus deduplicates (and consumers' inboxes absorb past the bus's
// duplicate window).
type relay struct {
	h         *host
	published atomic.Int64 // checkpoint as known in this process
	leader    atomic.Bool
	// afterPublish, when set (tests), runs between publish and checkpoint;
	// returning an error aborts the relay run as if the process had died.
	afterPublish func() error
}

func (r *relay) run(ctx context.Context) {
	r.h.p.leader(ctx, "relay."+r.h.name, r.leader.Store, r.tail)
}

// checkpointEvery bounds how long a published position may stay unrecorded:
// the checkpoint is written at most every checkpointEvery (or every
// checkpointBatch entries) while entries flow, and once the log is idle that
// long. A crash re-publishes what was not recorded; the bus deduplicates it.
const (
	checkpointEvery = 50 * time.Millisecond
	checkpointBatch = 5000
)

func (r *relay) tail(ctx context.Context) error {
	p, s := r.h.p, r.h.store
	cp, err := readCheckpoint(ctx, s, relayCheckpoint)
	if err != nil {
		return err
	}
	stored, storedAt := cp, time.Now()
	flush := func(ctx context.Context) error {
		if cp == stored {
			return nil
		}
		pos := cp
		if _, err := s.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			return writeCheckpoint(ctx, tx, relayCheckpoint, pos)
		}}); err != nil {
			return err
		}
		stored, storedAt = pos, time.Now()
		return nil
	}
	// On a clean stop, record what was published.
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = flush(fctx)
	}()
	r.published.Store(cp)
	p.progress.signal()
	// more: the last read was a full batch, so read again at once. Otherwise
	// wait first: Wait returns at once when the log is past cp, and an idle
	// relay costs no query per commit beyond the one read.
	more := true
	for {
		if !more {
			wctx, cancel := ctx, context.CancelFunc(func() {})
			if cp != stored {
				wctx, cancel = context.WithTimeout(ctx, checkpointEvery)
			}
			err := s.Wait(wctx, cp)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				if wctx.Err() == nil {
					return err
				}
				if err := flush(ctx); err != nil { // idle: record the checkpoint
					return err
				}
				continue
			}
		}
		events, err := s.ReadAll(ctx, cp, p.cfg.RelayBatch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(events) == 0 {
			more = false
			r.observeLag(ctx, cp)
			continue
		}
		envs := make([]es.Envelope, 0, len(events))
		for _, e := range events {
			if subj, ok := p.subjectOf(r.h.name, e.Type); ok {
				envs = append(envs, es.Envelope{Subject: subj, Message: es.FromEvent(r.h.name, e)})
			}
		}
		if len(envs) > 0 {
			if err := p.cfg.Bus.Publish(ctx, envs...); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if r.afterPublish != nil {
			if err := r.afterPublish(); err != nil {
				stored = cp // died: nothing more is recorded
				return err
			}
		}
		cp = events[len(events)-1].Position
		r.published.Store(cp)
		p.metrics.relayPublished.WithLabelValues(r.h.name).Add(float64(len(envs)))
		p.metrics.relayPosition.WithLabelValues(r.h.name).Set(float64(cp))
		if more = len(events) >= p.cfg.RelayBatch; more {
			r.observeLag(ctx, cp)
		} else {
			p.metrics.relayLag.WithLabelValues(r.h.name).Set(0) // read to the head
		}
		p.progress.signal()
		if cp-stored >= checkpointBatch || time.Since(storedAt) >= checkpointEvery {
			if err := flush(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

func (r *relay) observeLag(ctx context.Context, cp int64) {
	if head, err := r.h.store.Head(ctx); err == nil {
		r.h.p.metrics.relayLag.WithLabelValues(r.h.name).Set(float64(max(head-cp, 0)))
	}
}

// position returns how far the context's log is published: this process's
// relay if it leads, else the stored checkpoint (another process's relay).
func (r *relay) position(ctx context.Context) (int64, error) {
	if r.leader.Load() {
		return r.published.Load(), nil
	}
	cp, err := readCheckpoint(ctx, r.h.store, relayCheckpoint)
	if err != nil {
		return 0, err
	}
	return max(cp, r.published.Load()), nil
}

// subjectOf returns the bus subject of a log entry of context ctxName: by its
// registered kind and owner; an unregistered type is published as an event of
// the context itself. An internal event has none (false): it is not published.
func (p *Platform) subjectOf(ctxName, typ string) (string, bool) {
	if mt, ok := p.cfg.Registry.Lookup(typ); ok {
		if mt.Spec().Internal {
			return "", false
		}
		return es.SubjectOf(mt.Spec()), true
	}
	return es.SubjectOf(es.MessageSpec{Name: typ, Kind: es.KindEvent, Owner: ctxName}), true
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
