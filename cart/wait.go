package cart

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"acme"
)

// MaxCheckoutWait bounds GET /api/v1/checkouts/{id}?wait=N (seconds).
const MaxCheckoutWait = 30

// checkoutWatch wakes the requests that long-poll a checkout when this
// process's checkouts consumer decides it. The consumer notifies inside its
// transaction, before COMMIT, so a waiter that reads in between still sees
// PENDING: notify also remembers the id for a moment (decided), and a waiter
// registering then re-reads at once and often (see awaitCheckout).
type checkoutWatch struct {
	mu      sync.Mutex
	watch   map[string]*watched
	decided map[string]time.Time // recently notified ids
}

// decidedFor is how long a notified id is remembered (the decision's commit
// follows within it).
const decidedFor = 2 * time.Second

type watched struct {
	ch      chan struct{} // closed by notify
	waiters int
}

// add registers interest in checkout id: the channel is closed when the
// consumer decides it; release must be called once the caller stops waiting.
// recent reports that id was decided a moment ago (decided is then nil).
func (w *checkoutWatch) add(id string) (decided <-chan struct{}, recent bool, release func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watch == nil {
		w.watch = map[string]*watched{}
	}
	if at, ok := w.decided[id]; ok && time.Since(at) < decidedFor {
		return nil, true, func() {}
	}
	x := w.watch[id]
	if x == nil {
		x = &watched{ch: make(chan struct{})}
		w.watch[id] = x
	}
	x.waiters++
	return x.ch, false, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if x.waiters--; x.waiters == 0 && w.watch[id] == x {
			delete(w.watch, id)
		}
	}
}

// notify wakes the waiters of id, and those that come within decidedFor.
func (w *checkoutWatch) notify(id string) {
	w.mu.Lock()
	x := w.watch[id]
	delete(w.watch, id)
	now := time.Now()
	if w.decided == nil || len(w.decided) >= 4096 {
		for k, at := range w.decided { // forget the old ones (bounded)
			if now.Sub(at) >= decidedFor {
				delete(w.decided, k)
			}
		}
		if w.decided == nil || len(w.decided) >= 4096 {
			w.decided = map[string]time.Time{}
		}
	}
	w.decided[id] = now
	w.mu.Unlock()
	if x != nil {
		close(x.ch)
	}
}

// waitParam reads ?wait=N: whole seconds from 0 to MaxCheckoutWait.
func waitParam(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("wait")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxCheckoutWait {
		return 0, acme.Invalid(acme.FieldError{Field: "wait", Message: "must be whole seconds from 0 to " + strconv.Itoa(MaxCheckoutWait)})
	}
	return time.Duration(n) * time.Second, nil
}

// Re-read intervals of a long poll: soon after this process's consumer
// decided the checkout (its commit follows the decision by a moment), and
// now and then for a decision taken by another process (server mode with
// several processes: the one that consumed the verdict wakes only its own
// waiters). Every waiter re-reads at recheckOther, so it stays coarse: at
// 20 ms the re-reads were 3 % of a loaded server's CPU.
const recheckDecided = time.Millisecond

var recheckOther = 100 * time.Millisecond // a variable for tests

// awaitCheckout answers as CheckoutRequest, but while the checkout is PENDING
// waits up to wait for it to complete or fail (the server shutting down ends
// the wait early).
func (m *Module) awaitCheckout(ctx context.Context, customerID string, admin bool, id string, wait time.Duration) (CheckoutView, error) {
	if wait <= 0 {
		return m.CheckoutRequest(ctx, customerID, admin, id)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var draining <-chan struct{}
	if m.api != nil {
		draining = m.api.Draining()
	}
	var st awaitState
	for {
		v, done, err := m.awaitStep(ctx, customerID, admin, id, &st, deadline.C, draining)
		if done || err != nil {
			return v, err
		}
	}
}

// awaitState is what a long poll knows between its reads.
type awaitState struct {
	fast   int  // re-reads left at recheckDecided
	warned bool // a decision was seen (notified or recent): fast re-reads granted once
}

// awaitStep is one read and wait of awaitCheckout; done when it answers.
func (m *Module) awaitStep(ctx context.Context, customerID string, admin bool, id string, st *awaitState,
	deadline <-chan time.Time, draining <-chan struct{}) (v CheckoutView, done bool, err error) {
	decided, recent, release := m.watch.add(id) // before the read: a decision after it closes decided
	defer release()
	v, err = m.CheckoutRequest(ctx, customerID, admin, id)
	if err != nil || v.Status != StatusPending {
		return v, true, err
	}
	if recent && !st.warned { // decided, not committed yet: its commit comes in a moment
		st.warned, st.fast = true, 50
	}
	recheck := recheckOther
	if st.fast > 0 {
		recheck, st.fast = recheckDecided, st.fast-1
	}
	t := time.NewTimer(recheck)
	defer t.Stop()
	select {
	case <-decided:
		if !st.warned { // once: a rolled-back decision must not keep us re-reading every millisecond
			st.warned, st.fast = true, 50
		}
	case <-t.C:
	case <-deadline:
		return v, true, nil
	case <-draining:
		return v, true, nil
	case <-ctx.Done():
		return v, true, nil // the client is gone: nothing to answer
	}
	return v, false, nil
}
