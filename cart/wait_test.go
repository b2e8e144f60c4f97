package cart

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"acme"
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
	for q, want := range map[string]time.Duration{"": 0, "wait=0": 0, "wait=5": 5 * time.Second, "wait=30": 30 * time.Second} {
		if got, err := waitParam(httptest.NewRequest("GET", "/api/v1/checkouts/x?"+q, nil)); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", q, got, err, want)
		}
	}
	for _, q := range []string{"wait=31", "wait=-1", "wait=1.5", "wait=abc", "wait=5s"} {
		if _, err := waitParam(httptest.NewRequest("GET", "/api/v1/checkouts/x?"+q, nil)); acme.ErrorCode(err) != acme.CodeValidationFailed {
			t.Errorf("%q: %v, want validation_failed", q, err)
		}
	}
}

// The consumer notifies inside its transaction, before COMMIT: a long poll
// that registers after the notification (and reads PENDING before the
// commit lands) still answers as soon as the commit lands, not at its
// periodic re-read.
func TestCheckoutLongPollAfterTheNotification(t *testing.T) {
	old := recheckOther
	recheckOther = time.Hour // only the notification can wake the poll in time
	defer func() { recheckOther = old }()
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
	m.watch.notify(co.CheckoutID) // decided; the commit has not landed yet
	// A poll step now reads PENDING and, knowing of the decision, comes back
	// for another read at once instead of waiting for a notification that
	// already came (or its hour-long re-read).
	step := make(chan bool, 1)
	st := &awaitState{}
	go func() {
		_, done, _ := m.awaitStep(ctx, cust, false, co.CheckoutID, st, nil, nil)
		step <- done
	}()
	select {
	case done := <-step:
		if done || !st.warned {
			t.Fatalf("step after the notification: done %v, warned %v", done, st.warned)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll missed a decision notified before it registered")
	}
	// The decision's commit lands (the row as the consumer's Apply writes it):
	// the poll answers it.
	if _, err := h.Store().DB().ExecContext(ctx, `UPDATE cart_checkouts SET status = $1, order_id = $2 WHERE checkout_id = $3`,
		StatusCompleted, "o1", co.CheckoutID); err != nil {
		t.Fatal(err)
	}
	if v, err := m.awaitCheckout(ctx, cust, false, co.CheckoutID, 30*time.Second); err != nil || v.Status != StatusCompleted {
		t.Fatalf("answered %+v %v", v, err)
	}
}
