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
// process's checkouts consumer decides it.
type checkoutWatch struct {
	mu    sync.Mutex
	watch map[string]*watched
}

type watched struct {
	ch      chan struct{} // closed by notify
	waiters int
}

// add registers interest in checkout id: the channel is closed when the
// consumer decides it; release must be called once the caller stops waiting.
func (w *checkoutWatch) add(id string) (decided <-chan struct{}, release func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watch == nil {
		w.watch = map[string]*watched{}
	}
	x := w.watch[id]
	if x == nil {
		x = &watched{ch: make(chan struct{})}
		w.watch[id] = x
	}
	x.waiters++
	return x.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if x.waiters--; x.waiters == 0 && w.watch[id] == x {
			delete(w.watch, id)
		}
	}
}

// notify wakes the waiters of id.
func (w *checkoutWatch) notify(id string) {
	w.mu.Lock()
	x := w.watch[id]
	delete(w.watch, id)
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
const (
	recheckDecided = time.Millisecond
	recheckOther   = 100 * time.Millisecond
)

// awaitCheckout answers as CheckoutRequest, but while the checkout is PENDING
// waits up to wait for it to complete or fail (the server shutting down ends
// the wait early).
func (m *Module) awaitCheckout(ctx context.Context, customerID string, admin bool, id string, wait time.Duration) (CheckoutView, error) {
	v, err := m.CheckoutRequest(ctx, customerID, admin, id)
	if err != nil || v.Status != StatusPending || wait <= 0 {
		return v, err
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var draining <-chan struct{}
	if m.api != nil {
		draining = m.api.Draining()
	}
	fast := 0 // re-reads left at recheckDecided
	for {
		decided, release := m.watch.add(id) // before the read: a decision after it closes decided
		v, err = m.CheckoutRequest(ctx, customerID, admin, id)
		if err != nil || v.Status != StatusPending {
			release()
			return v, err
		}
		recheck := recheckOther
		if fast > 0 {
			recheck, fast = recheckDecided, fast-1
		}
		t := time.NewTimer(recheck)
		select {
		case <-decided:
			fast = 50 // a rolled-back decision must not keep us re-reading every millisecond
		case <-t.C:
		case <-deadline.C:
			release()
			t.Stop()
			return v, nil
		case <-draining:
			release()
			t.Stop()
			return v, nil
		case <-ctx.Done():
			release()
			t.Stop()
			return v, ctx.Err()
		}
		release()
		t.Stop()
	}
}
