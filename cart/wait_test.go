package cart

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
)

// A long poll of a PENDING checkout answers with its outcome once the
// checkouts consumer decides it, without the caller polling again; it answers
// PENDING when its wait runs out; other customers still get 404.
func TestCheckoutLongPoll(t *testing.T) {
	m, h, _ := startCart(t)
	ctx := context.Background()
	h.deliver(t, "ProductCreated", map[string]any{"productId": pA, "name": "Shirt", "price": usdMap(1000), "categoryId": "cat", "initialStock": 4})
	checkout := func() string {
		t.Helper()
		if _, _, err := m.AddItem(ctx, cust, pA, "", 1); err != nil {
			t.Fatal(err)
		}
		co, _, err := m.Checkout(ctx, cust, Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}, PaymentMethod{Type: "card", Token: "tok_visa"})
		if err != nil {
			t.Fatal(err)
		}
		return co.CheckoutID
	}
	// waiting reports whether a long poll of id is registered.
	waiting := func(id string) bool {
		m.watch.mu.Lock()
		defer m.watch.mu.Unlock()
		return m.watch.watch[id] != nil
	}
	for _, verdict := range []string{"CheckoutCompleted", "CheckoutFailed"} {
		id := checkout()
		type answer struct {
			v   CheckoutView
			err error
		}
		got := make(chan answer, 1)
		go func() {
			v, err := m.awaitCheckout(ctx, cust, false, id, 10*time.Second)
			got <- answer{v, err}
		}()
		deadline := time.Now().Add(5 * time.Second)
		for !waiting(id) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the long poll never waited", verdict)
			}
			time.Sleep(time.Millisecond)
		}
		h.deliver(t, verdict, map[string]any{"checkoutId": id, "orderId": "o-" + id, "customerId": cust, "reason": "payment_declined"})
		select {
		case a := <-got:
			want := map[string]string{"CheckoutCompleted": StatusCompleted, "CheckoutFailed": StatusFailed}[verdict]
			if a.err != nil || a.v.Status != want {
				t.Fatalf("%s: long poll answered %+v %v, want %s", verdict, a.v, a.err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the long poll did not answer after the verdict", verdict)
		}
		if waiting(id) {
			t.Fatalf("%s: a finished long poll is still registered", verdict)
		}
		if verdict == "CheckoutFailed" { // the cart was restored: empty it for the next checkout
			if _, _, err := m.RemoveItem(ctx, cust, pA, "", false); err != nil {
				t.Fatal(err)
			}
		}
	}
	// No verdict: PENDING once the wait is over.
	id := checkout()
	start := time.Now()
	v, err := m.awaitCheckout(ctx, cust, false, id, time.Second)
	if err != nil || v.Status != StatusPending || time.Since(start) < time.Second {
		t.Fatalf("timed-out long poll: %+v %v after %s", v, err, time.Since(start))
	}
	// Another customer's checkout: 404 at once, not a wait.
	if _, err := m.awaitCheckout(ctx, acme.NewID(), false, id, 10*time.Second); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("another customer's checkout: %v", err)
	}
}

func TestWaitParam(t *testing.T) {
	for q, want := range map[string]time.Duration{"": 0, "wait=0": 0, "wait=5": 5 * time.Second, "wait=30": 30 * time.Second,
		"wait=5s": 5 * time.Second, "wait=1500ms": 1500 * time.Millisecond, "wait=30s": 30 * time.Second} {
		if got, err := waitParam(httptest.NewRequest("GET", "/api/v1/checkouts/x?"+q, nil)); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", q, got, err, want)
		}
	}
	for _, q := range []string{"wait=31", "wait=-1", "wait=1.5", "wait=abc", "wait=31s", "wait=-1s", "wait=1h", "wait=99999999999999999999"} {
		if _, err := waitParam(httptest.NewRequest("GET", "/api/v1/checkouts/x?"+q, nil)); acme.ErrorCode(err) != acme.CodeValidationFailed {
			t.Errorf("%q: %v, want validation_failed", q, err)
		}
	}
}

// pendingCheckout starts a cart whose long-poll poller runs every recheck
// and checks one line out: the checkout is PENDING.
func pendingCheckout(t *testing.T, recheck time.Duration) (*Module, *testHost, CheckoutView) {
	t.Helper()
	old := recheckOther
	recheckOther = recheck
	t.Cleanup(func() { recheckOther = old })
	m, h, _ := startCart(t)
	ctx := context.Background()
	h.deliver(t, "ProductCreated", map[string]any{"productId": pA, "name": "Shirt", "price": usdMap(1000), "categoryId": "cat", "initialStock": 4})
	if _, _, err := m.AddItem(ctx, cust, pA, "", 1); err != nil {
		t.Fatal(err)
	}
	co, _, err := m.Checkout(ctx, cust, Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}, PaymentMethod{Type: "card", Token: "tok_visa"})
	if err != nil {
		t.Fatal(err)
	}
	return m, h, co
}

// A long poll is woken only once the verdict is committed, so the read it
// then makes finds the verdict: no PENDING answer re-read later (nor a fast
// re-read loop to make up for an early wake).
func TestCheckoutLongPollWokenAfterCommit(t *testing.T) {
	m, h, co := pendingCheckout(t, time.Hour) // only the notification can wake the poll in time
	ctx := context.Background()
	decided, release := m.watch.add(co.CheckoutID)
	defer release()
	msg := estest.Message(t, "CheckoutCompleted", "", map[string]any{"checkoutId": co.CheckoutID, "orderId": "o1", "customerId": cust})
	c, err := m.onCheckout(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	apply := c.Apply
	c.Apply = func(ctx context.Context, tx es.SQL, events []es.Event) error {
		if err := apply(ctx, tx, events); err != nil {
			return err
		}
		select { // the verdict is written, not committed: nobody may be woken yet
		case <-decided:
			return errors.New("a long poll was woken before the verdict's commit")
		case <-time.After(100 * time.Millisecond):
			return nil
		}
	}
	if _, err := h.Store().Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	select {
	case <-decided:
	default:
		t.Fatal("the long poll was not woken by the committed verdict")
	}
	if v, err := m.CheckoutRequest(ctx, cust, false, co.CheckoutID); err != nil || v.Status != StatusCompleted {
		t.Fatalf("woken poll reads %+v %v", v, err)
	}
}

// A checkout decided by another process (whose consumer wakes only its own
// waiters) is answered by the poller's next round: one query for every
// waiting request. The poller stops when nobody waits.
func TestCheckoutLongPollDecidedElsewhere(t *testing.T) {
	m, h, co := pendingCheckout(t, 20*time.Millisecond)
	ctx := context.Background()
	got := make(chan CheckoutView, 1)
	go func() {
		v, _ := m.awaitCheckout(ctx, cust, false, co.CheckoutID, 30*time.Second)
		got <- v
	}()
	// The verdict as another process's consumer commits it: no notification here.
	if _, err := h.Store().DB().ExecContext(ctx, `UPDATE cart_checkouts SET status = $1, order_id = $2 WHERE checkout_id = $3`,
		StatusCompleted, "o1", co.CheckoutID); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v.Status != StatusCompleted {
			t.Fatalf("answered %+v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a checkout decided elsewhere was never answered")
	}
	// Many waiters: the ids go in fixed-size chunks, the last one padded.
	ids := make([]string, 2*decidedChunk+3)
	for i := range ids {
		ids[i] = acme.NewID()
	}
	ids[decidedChunk+1] = co.CheckoutID
	if got, err := m.decidedCheckouts(ctx, ids); err != nil || len(got) != 1 || got[0] != co.CheckoutID {
		t.Fatalf("decided among %d ids: %v %v; want [%s]", len(ids), got, err, co.CheckoutID)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.watch.mu.Lock()
		polling := m.watch.polling
		m.watch.mu.Unlock()
		if !polling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the poller still runs with nobody waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
