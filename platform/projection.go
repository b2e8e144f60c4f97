package platform

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"acme/es"
)

// projection runs one Host.Project registration: it applies the context's log
// in batches, each batch in one store transaction (Commit with Apply only)
// that also writes the projection's checkpoint, so the read model and its
// position can never disagree.
//
// Rebuild builds beside, then swaps, by MVCC: Reset, the replay of the whole
// log and the new checkpoint run in ONE transaction. Readers (other
// connections; SQLite WAL and PostgreSQL snapshots) keep seeing the complete
// old model until that transaction commits, then the complete new one: never
// an empty or half-built model. The events are read before the transaction
// (so the store's read connections are not needed while its writer is held);
// events committed meanwhile are applied by the next batch as usual.
type projection struct {
	h *host
	p es.Projection

	position   atomic.Int64
	leader     atomic.Bool
	status     atomic.Value // "running", "rebuilding", "failing", "standby" (another process runs it), "stopped"
	rebuildReq chan struct{}
	prefetched []es.Event // the next batch, read while the previous one committed

	mu      sync.Mutex
	lastErr string
	wake    context.CancelFunc // cancels the current Wait (rebuild request)
}

// run keeps the projection's lease (one writer across processes) and runs it.
// A process without the lease follows the stored checkpoint.
func (x *projection) run(ctx context.Context) {
	defer x.status.Store("stopped")
	x.status.Store("standby")
	done := make(chan struct{})
	go x.follow(ctx, done)
	x.h.p.leader(ctx, "projection."+x.p.Name, func(held bool) {
		x.leader.Store(held)
		if !held {
			x.status.Store("standby")
		}
	}, func(ctx context.Context) error {
		pos, err := readCheckpoint(ctx, x.h.store, projectionCheckpoint(x.p.Name))
		if err != nil {
			return err
		}
		x.prefetched = nil
		x.position.Store(pos)
		x.status.Store("running")
		x.lead(ctx)
		return nil
	})
	<-done
}

// follow refreshes the position from the stored checkpoint while another
// process runs the projection; while this one runs it, it looks every second
// for rebuilds asked of other processes.
func (x *projection) follow(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for tick := 0; sleep(ctx, 100*time.Millisecond); tick++ {
		if x.leader.Load() {
			if tick%10 == 0 && x.rebuildAsked(ctx) {
				x.status.Store("rebuilding")
				x.requestRebuild()
			}
			continue
		}
		if pos, err := readCheckpoint(ctx, x.h.store, projectionCheckpoint(x.p.Name)); err == nil && pos > x.position.Load() {
			x.position.Store(pos)
			x.h.p.progress.signal()
		}
	}
}

func (x *projection) lead(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		select {
		case <-x.rebuildReq:
			if !x.rebuildAsked(ctx) {
				// answered by the rebuild that just ran (follow may queue a
				// request while one runs): nothing new was asked
				x.status.Store("running")
				continue
			}
			if err := x.rebuild(ctx); err != nil {
				x.fail(ctx, err, &fails)
				x.requestRebuild() // try again
			} else {
				fails = 0
			}
			continue
		default:
		}
		n, err := x.step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			x.fail(ctx, err, &fails)
			continue
		}
		fails = 0
		if n == 0 {
			x.wait(ctx)
		}
	}
}

func (x *projection) fail(ctx context.Context, err error, fails *int) {
	*fails++
	x.status.Store("failing")
	x.setErr(err.Error())
	x.h.p.log.Error("projection failed; retrying", "projection", x.p.Name, "err", err)
	d := min(time.Duration(1<<min(*fails, 6))*50*time.Millisecond, 5*time.Second)
	sleep(ctx, d)
}

// wait blocks until the log grows past the checkpoint, a rebuild is requested
// or ctx is done.
func (x *projection) wait(ctx context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	x.mu.Lock()
	x.wake = cancel
	x.mu.Unlock()
	if len(x.rebuildReq) == 0 {
		_ = x.h.store.Wait(wctx, x.position.Load())
	}
	x.mu.Lock()
	x.wake = nil
	x.mu.Unlock()
	cancel()
}

// step applies the next batch; it returns how many events it applied. While a
// batch commits, the next one is read (two cores work during a catch-up).
func (x *projection) step(ctx context.Context) (int, error) {
	s := x.h.store
	from := x.position.Load()
	events := x.prefetched
	x.prefetched = nil
	if len(events) == 0 || events[0].Position != from+1 {
		var err error
		if events, err = s.ReadAll(ctx, from, x.h.p.cfg.ProjectionBatch); err != nil || len(events) == 0 {
			return 0, err
		}
	}
	last := events[len(events)-1].Position
	type read struct {
		events []es.Event
		err    error
	}
	next := make(chan read, 1)
	if len(events) == x.h.p.cfg.ProjectionBatch { // more is likely waiting
		go func() {
			evs, err := s.ReadAll(ctx, last, x.h.p.cfg.ProjectionBatch)
			next <- read{evs, err}
		}()
	} else {
		next <- read{}
	}
	_, err := s.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		if err := x.apply(ctx, tx, events); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		return writeCheckpoint(ctx, tx, projectionCheckpoint(x.p.Name), last)
	}})
	r := <-next
	if err != nil {
		return 0, err
	}
	if r.err == nil {
		x.prefetched = r.events
	}
	x.advanced(ctx, last)
	return len(events), nil
}

func (x *projection) advanced(ctx context.Context, pos int64) {
	x.position.Store(pos)
	x.status.Store("running")
	x.setErr("")
	m := x.h.p.metrics
	m.projectionPosition.WithLabelValues(x.p.Name).Set(float64(pos))
	if head, err := x.h.store.Head(ctx); err == nil {
		m.projectionLag.WithLabelValues(x.p.Name).Set(float64(max(head-pos, 0)))
	}
	x.h.p.progress.signal()
}

// rebuild replays the whole log into a fresh model and swaps it in atomically.
func (x *projection) rebuild(ctx context.Context) error {
	x.status.Store("rebuilding")
	x.prefetched = nil
	s := x.h.store
	asked, err := readCheckpoint(ctx, s, rebuildRequested(x.p.Name))
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", x.p.Name, err)
	}
	var events []es.Event
	var after int64
	for {
		batch, err := s.ReadAll(ctx, after, 10000)
		if err != nil {
			return fmt.Errorf("rebuild %s: read: %w", x.p.Name, err)
		}
		if len(batch) == 0 {
			break
		}
		events = append(events, batch...)
		after = batch[len(batch)-1].Position
	}
	batch := x.h.p.cfg.ProjectionBatch
	if _, err := s.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		if x.p.Reset != nil {
			if err := x.p.Reset(ctx, tx); err != nil {
				return fmt.Errorf("reset: %w", err)
			}
		}
		for i := 0; i < len(events); i += batch {
			if err := x.apply(ctx, tx, events[i:min(i+batch, len(events))]); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
		if err := writeCheckpoint(ctx, tx, rebuildDone(x.p.Name), asked); err != nil {
			return err
		}
		return writeCheckpoint(ctx, tx, projectionCheckpoint(x.p.Name), after)
	}}); err != nil {
		return fmt.Errorf("rebuild %s: %w", x.p.Name, err)
	}
	x.h.p.log.Info("projection rebuilt", "projection", x.p.Name, "events", len(events), "position", after)
	x.advanced(ctx, after)
	return nil
}

// rebuildAsked reports whether more rebuilds were asked for than done (one
// query: the leader asks every second).
func (x *projection) rebuildAsked(ctx context.Context) bool {
	var asked bool
	err := x.h.store.DB().QueryRowContext(ctx, `SELECT
  COALESCE((SELECT position FROM platform_checkpoints WHERE name = $1), 0) >
  COALESCE((SELECT position FROM platform_checkpoints WHERE name = $2), 0)`,
		rebuildRequested(x.p.Name), rebuildDone(x.p.Name)).Scan(&asked)
	return err == nil && asked
}

// requestRebuild asks the runner to rebuild (at most one request is queued).
func (x *projection) requestRebuild() {
	select {
	case x.rebuildReq <- struct{}{}:
	default:
	}
	x.mu.Lock()
	if x.wake != nil {
		x.wake()
	}
	x.mu.Unlock()
}

func (x *projection) setErr(s string) {
	x.mu.Lock()
	x.lastErr = s
	x.mu.Unlock()
}

func (x *projection) lastError() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lastErr
}

// apply runs the projection's Apply; a panic becomes an error.
func (x *projection) apply(ctx context.Context, tx es.SQL, events []es.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("projection %s panic: %v", x.p.Name, r)
		}
	}()
	return x.p.Apply(ctx, tx, events)
}
