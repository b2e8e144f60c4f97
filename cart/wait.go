package cart

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"acme"
)

// MaxCheckoutWait bounds GET /api/v1/checkouts/{id}?wait=N (seconds).
const MaxCheckoutWait = 30

// checkoutWatch wakes the requests that long-poll a checkout. This process's
// checkouts consumer wakes them once its decision is committed
// (es.Commit.Committed), so a woken request reads the outcome. A decision
// committed by another process (server mode, consumers shared between
// processes) is found by one poller: while anyone waits, it asks every
// recheckOther which of the awaited checkouts are decided, in one query
// whatever the number of waiters.
type checkoutWatch struct {
	mu      sync.Mutex
	watch   map[string]*watched
	polling bool
	// decided returns which of ids are no longer PENDING (nil: no poller).
	decided func(ctx context.Context, ids []string) ([]string, error)
	every   time.Duration // the poller's interval (recheckOther at start)
}

type watched struct {
	ch      chan struct{} // closed by notify
	waiters int
}

// add registers interest in checkout id: the channel is closed once the
// consumer's decision is committed; release must be called once the caller
// stops waiting.
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
	if !w.polling && w.decided != nil {
		w.polling = true
		go w.poll()
	}
	return x.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if x.waiters--; x.waiters == 0 && w.watch[id] == x {
			delete(w.watch, id)
		}
	}
}

// poll wakes, every recheckOther, the waiters of checkouts decided meanwhile
// (by whichever process); it stops when nobody waits.
func (w *checkoutWatch) poll() {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.watch) == 0 {
			w.polling = false
			w.mu.Unlock()
			return
		}
		ids := make([]string, 0, len(w.watch))
		for id := range w.watch {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), w.every)
		done, err := w.decided(ctx, ids)
		cancel()
		if err != nil {
			slog.Warn("cart: checkout long-poll re-read", "err", err)
		}
		for _, id := range done {
			w.notify(id)
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

// waitParam reads ?wait=: seconds (5) or a Go duration (5s, 1500ms), from 0
// to MaxCheckoutWait seconds.
func waitParam(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("wait")
	if s == "" {
		return 0, nil
	}
	d := time.Duration(-1)
	n, err := strconv.Atoi(s)
	if err == nil && n >= 0 && n <= MaxCheckoutWait {
		d = time.Duration(n) * time.Second
	} else if err != nil {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 || d > time.Duration(MaxCheckoutWait)*time.Second {
		return 0, acme.Invalid(acme.FieldError{Field: "wait", Message: "must be seconds (5) or a duration (5s, 1500ms) from 0 to " + strconv.Itoa(MaxCheckoutWait) + "s"})
	}
	return d, nil
}

// recheckOther is how often the poller looks for checkouts decided by another
// process (the one that consumed the verdict wakes only its own waiters).
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
	for {
		v, done, err := m.awaitStep(ctx, customerID, admin, id, deadline.C, draining)
		if done || err != nil {
			return v, err
		}
	}
}

// awaitStep is one read and wait of awaitCheckout; done when it answers.
func (m *Module) awaitStep(ctx context.Context, customerID string, admin bool, id string,
	deadline <-chan time.Time, draining <-chan struct{}) (v CheckoutView, done bool, err error) {
	decided, release := m.watch.add(id) // before the read: a decision committed after it closes decided
	defer release()
	v, err = m.CheckoutRequest(ctx, customerID, admin, id)
	if err != nil || v.Status != StatusPending {
		return v, true, err
	}
	select {
	case <-decided:
	case <-deadline:
		return v, true, nil
	case <-draining:
		return v, true, nil
	case <-ctx.Done():
		return v, true, nil // the client is gone: nothing to answer
	}
	return v, false, nil
}
