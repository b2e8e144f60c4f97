package platform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"acme/es"
)

// consumer runs one Host.Consume registration.
type consumer struct {
	h        *host
	name     string // as registered
	full     string // "<context>.<name>": inbox prefix, metrics label, admin name
	durable  string // bus consumer name "<context>_<name>"
	types    []string
	subjects []string
	handler  es.Handler
	batch    es.BatchHandler // nil unless registered with ConsumeBatch
	sub      es.Subscription

	status  atomic.Value // string
	applied atomic.Int64 // messages applied
	mu      sync.Mutex
	lastErr string

	posMu     sync.Mutex
	positions map[string]int64 // source context → position applied through (noteApplied)
	moved     map[string]bool  // positions not written yet (flushPositions)

	heldMu sync.Mutex
	held   map[*heldDelivery]struct{} // fetched and not settled yet
}

// heldDelivery is a delivery the consumer holds from its fetch until it is
// settled (acked, nakked or terminated): while held, the heartbeat keeps the
// bus from giving it to another consumer, however long it waits in a lane
// or its handler runs. A process that dies stops holding: its deliveries go
// to the others after AckWait.
type heldDelivery struct {
	es.Delivery
	c *consumer
}

// Each is released before it is settled: a heartbeat sent after a Nak would
// make the server forget the Nak's delay.
func (h *heldDelivery) Ack(ctx context.Context) error {
	h.c.release(h)
	return h.Delivery.Ack(ctx)
}

func (h *heldDelivery) Nak(delay time.Duration) error {
	h.c.release(h)
	return h.Delivery.Nak(delay)
}

func (h *heldDelivery) Term() error {
	h.c.release(h)
	return h.Delivery.Term()
}

func (c *consumer) hold(d es.Delivery) es.Delivery {
	h := &heldDelivery{Delivery: d, c: c}
	c.heldMu.Lock()
	if c.held == nil {
		c.held = map[*heldDelivery]struct{}{}
	}
	c.held[h] = struct{}{}
	c.heldMu.Unlock()
	return h
}

func (c *consumer) release(h *heldDelivery) {
	c.heldMu.Lock()
	delete(c.held, h)
	c.heldMu.Unlock()
}

// heartbeat tells the bus, every third of ackWait, that the held deliveries
// are in progress, until ctx ends (Close ends it once the workers stopped).
func (c *consumer) heartbeat(ctx context.Context, ackWait time.Duration) {
	t := time.NewTicker(max(ackWait/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.heldMu.Lock() // a released delivery gets none: its settling may be on the way
		for h := range c.held {
			_ = h.InProgress()
		}
		c.heldMu.Unlock()
	}
}

// handleTimeout bounds one message's handling when the platform is closing.
const handleTimeout = 30 * time.Second

// commitTimeout bounds the commit of a handler's result (see commitRetrying).
const commitTimeout = 10 * time.Second

// maxConcurrencyRetries bounds the handler re-runs on ErrConcurrency (each
// after es.RetryConflicts' random wait; redelivery covers what still loses).
const maxConcurrencyRetries = 10

func (c *consumer) work(ctx context.Context) {
	c.status.Store("running")
	defer c.status.Store("stopped")
	for {
		d, ok := c.next(ctx)
		if !ok {
			return
		}
		// In-flight work finishes (ack or nak) even when the platform closes.
		c.deliverOne(ctx, d)
	}
}

// next waits for the next delivery, retrying after a bus error; false once
// ctx is done or the subscription is closed.
func (c *consumer) next(ctx context.Context) (es.Delivery, bool) {
	for {
		d, err := c.sub.Next(ctx)
		if err == nil {
			return c.hold(d), true
		}
		if ctx.Err() != nil || errors.Is(err, es.ErrClosed) {
			return nil, false
		}
		c.h.p.log.Warn("consumer next", "consumer", c.full, "err", err)
		if !sleep(ctx, 100*time.Millisecond) {
			return nil, false
		}
	}
}

// errStopping ends a handler's context Config.StopGrace after Close began.
var errStopping = errors.New("platform: stopping")

// deliverOne is deliver with its own handleTimeout. Once ctx has ended
// (Close), a delivery not started yet goes back to the bus; one in flight
// finishes, acked or nacked, but its handler's context ends
// Config.StopGrace after Close began: a handler stuck on a slow service (a
// card processor) gives up and its message goes back to the bus for another
// process or the next start, instead of holding the stop for handleTimeout.
func (c *consumer) deliverOne(ctx context.Context, d es.Delivery) {
	if ctx.Err() != nil {
		c.giveBack(d)
		return
	}
	hctx, cancel := context.WithTimeout(c.h.p.handlers, handleTimeout)
	defer cancel()
	c.deliver(hctx, d)
}

// giveBack returns d to the bus because the platform is closing. The delay
// keeps it from this process's last pulls, each of which would cost it a
// delivery.
func (c *consumer) giveBack(d es.Delivery) {
	_ = d.Nak(c.h.p.cfg.StopGrace + 5*time.Second)
}

// workKeyed fetches deliveries and hands each to one of n lanes chosen by its
// source stream, so one stream's messages are applied in order while other
// streams' go on in parallel. A lane's queue is short: when it is full the
// fetcher waits (back-pressure within the consumer's ack window).
func (c *consumer) workKeyed(ctx context.Context, n int) {
	c.status.Store("running")
	defer c.status.Store("stopped")
	lanes := make([]chan es.Delivery, n)
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan es.Delivery, 16)
		wg.Add(1)
		go func(in <-chan es.Delivery) {
			defer wg.Done()
			for d := range in {
				c.deliverOne(ctx, d)
			}
		}(lanes[i])
	}
	defer func() {
		for _, l := range lanes {
			close(l) // the lanes finish what they hold (ack or nak), then stop
		}
		wg.Wait()
	}()
	for {
		d, ok := c.next(ctx)
		if !ok {
			return
		}
		select {
		case lanes[lane(d.Message().Subject, n)] <- d:
		case <-ctx.Done():
			c.giveBack(d) // not started: redelivered to whoever consumes next
			return
		}
	}
}

// lane picks the worker of a source stream (FNV-1a of its id).
func lane(stream string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(stream); i++ {
		h ^= uint32(stream[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// deliver applies one delivery and acks, naks or dead-letters it.
func (c *consumer) deliver(ctx context.Context, d es.Delivery) {
	p := c.h.p
	m := p.metrics
	msg := d.Message()
	n := d.NumDelivered()
	m.consumerDeliveries.WithLabelValues(c.full).Inc()
	if n > 1 {
		m.consumerRedeliveries.WithLabelValues(c.full).Inc()
	}
	start := time.Now()
	err := c.apply(ctx, msg)
	m.consumerLatency.WithLabelValues(c.full).Observe(time.Since(start).Seconds())
	// Settling is not the handler's work: it gets a context of its own (the
	// handler's may have ended on a stop).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err != nil && errors.Is(context.Cause(ctx), errStopping) {
		// Told to stop, not failed: back to the bus at once, not a step
		// towards the dead letters.
		p.log.Info("handler stopped by the shutdown; message returned to the bus", "consumer", c.full, "type", msg.Type, "messageId", msg.ID)
		c.giveBack(d)
		return
	}
	if err == nil {
		if err := d.Ack(sctx); err != nil {
			p.log.Warn("consumer ack (the redelivery will be a duplicate)", "consumer", c.full, "messageId", msg.ID, "err", err)
		}
		c.applied.Add(1)
		c.noteApplied(msg.Source, msg.Position)
		c.setErr("")
		p.progress.signal()
		return
	}
	c.setErr(err.Error())
	retry := c.policy(msg.Type)
	if es.IsPermanent(err) || n >= retry.MaxDeliveries {
		dl := es.DeadLetter{Consumer: c.full, Subject: d.Subject(), Message: msg, Error: err.Error(), Deliveries: n}
		if derr := p.cfg.Bus.DeadLetter(sctx, dl); derr != nil {
			p.log.Error("dead letter failed; will redeliver", "consumer", c.full, "messageId", msg.ID, "err", derr)
			_ = d.Nak(c.backoff(retry, n))
			return
		}
		_ = d.Term()
		m.consumerDeadLetters.WithLabelValues(c.full).Inc()
		p.log.Error("message dead-lettered", "consumer", c.full, "type", msg.Type, "messageId", msg.ID, "deliveries", n, "err", err)
		p.progress.signal()
		return
	}
	p.log.Warn("message failed; will retry", "consumer", c.full, "type", msg.Type, "messageId", msg.ID, "delivery", n, "err", err)
	_ = d.Nak(c.backoff(retry, n))
}

// backoff is the redelivery delay after delivery n failed.
func (c *consumer) backoff(r RetryPolicy, n int) time.Duration {
	d := c.h.p.cfg.Backoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// policy is the retry policy of a message of type typ: each field from
// Config.Retries["<consumer>/<type>"], else Retries["<consumer>"], else the
// platform's default.
func (c *consumer) policy(typ string) RetryPolicy {
	cfg := c.h.p.cfg
	r := RetryPolicy{MaxDeliveries: cfg.MaxDeliveries, MaxBackoff: cfg.MaxBackoff}
	for _, key := range []string{c.full, c.full + "/" + typ} {
		if o := cfg.Retries[key]; o.MaxDeliveries > 0 {
			r.MaxDeliveries = o.MaxDeliveries
		}
		if o := cfg.Retries[key]; o.MaxBackoff > 0 {
			r.MaxBackoff = o.MaxBackoff
		}
	}
	return r
}

// apply runs the handler and stores its commit with the inbox id
// "<context>.<name>/<message id>"; nil when the message is applied (now or before).
func (c *consumer) apply(ctx context.Context, msg es.Message) error {
	if err := c.validate(msg); err != nil {
		return err
	}
	hctx := es.HandlerContext(ctx, msg)
	inbox := c.full + "/" + msg.ID
	err := c.commitRetrying(hctx, func() (es.Commit, error) {
		cm, err := c.call(hctx, msg)
		cm.InboxID = inbox
		return cm, err
	})
	if errors.Is(err, es.ErrDuplicate) {
		return nil
	}
	return err
}

// commitRetrying stores the commit handle builds, running handle again when
// the commit loses a race (ErrConcurrency); handle's own error is returned
// as it is, never retried here.
func (c *consumer) commitRetrying(ctx context.Context, handle func() (es.Commit, error)) error {
	var handlerErr error
	err := es.RetryConflicts(ctx, maxConcurrencyRetries, func() error {
		cm, err := handle()
		if err != nil {
			handlerErr = err
			return nil
		}
		// What the handler did outside the store (an email sent) is done:
		// its commit gets a deadline of its own, not what a slow send left
		// of the handler's. A commit lost to the deadline would have the
		// message redelivered and the email sent again.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		_, err = c.h.store.Commit(cctx, cm)
		return err
	})
	if handlerErr != nil {
		return handlerErr
	}
	return err
}

// validate checks msg against its schema (Config.Validate); the error is permanent.
func (c *consumer) validate(msg es.Message) error {
	if v := c.h.p.cfg.Validate; v != nil {
		if err := v(msg); err != nil {
			return es.Permanent(fmt.Errorf("invalid %s message: %w", msg.Type, err))
		}
	}
	return nil
}

func (c *consumer) setErr(s string) {
	c.mu.Lock()
	c.lastErr = s
	c.mu.Unlock()
}

func (c *consumer) lastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// call runs the handler; a panic becomes an error (retried, then dead-lettered),
// never a dead process.
func (c *consumer) call(ctx context.Context, msg es.Message) (cm es.Commit, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return c.handler(ctx, msg)
}

// workBatch takes, after each Next, what else is ready (up to Config.MaxBatch)
// and applies it with the batch handler in one commit.
func (c *consumer) workBatch(ctx context.Context) {
	c.status.Store("running")
	defer c.status.Store("stopped")
	for {
		d, ok := c.next(ctx)
		if !ok {
			return
		}
		ds := []es.Delivery{d}
		for len(ds) < c.h.p.cfg.MaxBatch {
			d, ok := c.sub.TryNext()
			if !ok {
				break
			}
			ds = append(ds, c.hold(d))
		}
		// In-flight work finishes (ack or nak) even when the platform closes.
		c.deliverBatch(context.WithoutCancel(ctx), ds)
	}
}

// deliverBatch applies ds in order: runs of first deliveries of valid
// messages as one batch each; a redelivery (it may have failed before) or an
// invalid message alone, so it cannot fail the others. Each batch and each
// message applied alone has its own handleTimeout.
func (c *consumer) deliverBatch(ctx context.Context, ds []es.Delivery) {
	var run []es.Delivery
	for _, d := range ds {
		if d.NumDelivered() == 1 && c.validate(d.Message()) == nil {
			run = append(run, d)
			continue
		}
		c.deliverRun(ctx, run)
		run = run[:0]
		c.deliverOne(ctx, d)
	}
	c.deliverRun(ctx, run)
}

// deliverRun applies run in one commit and acks it; when that fails, each
// delivery is applied and settled on its own (deliver).
func (c *consumer) deliverRun(ctx context.Context, run []es.Delivery) {
	switch len(run) {
	case 0:
		return
	case 1:
		c.deliverOne(ctx, run[0])
		return
	}
	p := c.h.p
	m := p.metrics
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, handleTimeout)
	defer cancel()
	if err := c.applyBatch(bctx, run); err != nil {
		p.log.Info("batch failed; applying its messages one at a time", "consumer", c.full, "messages", len(run), "err", err)
		for _, d := range run {
			c.deliverOne(ctx, d)
		}
		return
	}
	each := time.Since(start).Seconds() / float64(len(run))
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout) // not what the batch left of its budget
	defer acancel()
	var wg sync.WaitGroup
	for _, d := range run {
		m.consumerDeliveries.WithLabelValues(c.full).Inc()
		m.consumerLatency.WithLabelValues(c.full).Observe(each)
		wg.Go(func() {
			if err := d.Ack(actx); err != nil {
				p.log.Warn("consumer ack (the redelivery will be a duplicate)", "consumer", c.full, "messageId", d.Message().ID, "err", err)
			}
		})
	}
	wg.Wait()
	c.applied.Add(int64(len(run)))
	for _, d := range run {
		c.noteApplied(d.Message().Source, d.Message().Position)
	}
	c.setErr("")
	p.progress.signal()
}

// applyBatch runs the batch handler over run's messages and stores its commit
// with every message's inbox id, re-running it on ErrConcurrency.
func (c *consumer) applyBatch(ctx context.Context, run []es.Delivery) error {
	msgs := make([]es.Message, len(run))
	inbox := make([]string, len(run))
	for i, d := range run {
		msgs[i] = d.Message()
		inbox[i] = c.full + "/" + msgs[i].ID
	}
	hctx := es.HandlerContext(ctx, msgs[len(msgs)-1])
	return c.commitRetrying(hctx, func() (es.Commit, error) {
		cm, err := c.callBatch(hctx, msgs)
		cm.InboxID, cm.InboxIDs = "", inbox
		return cm, err
	})
}

func (c *consumer) callBatch(ctx context.Context, msgs []es.Message) (cm es.Commit, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return c.batch(ctx, msgs)
}
