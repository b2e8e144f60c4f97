package checkout_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"acme/acmetest"
	"acme/testenv"
)

// TestDuplicateDelivery delivers every message of the checkouts twice: a
// duplicator on the external NATS server republishes each command and event
// with a fresh JetStream message id (so JetStream does not drop it) and the same
// CloudEvent id. The outcome must be what it is without duplicates. Server mode
// only: the embedded bus is not reachable from the test.
func TestDuplicateDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if !testenv.ServerMode(t) {
		t.Skip("server mode skipped (see the log above): the duplicator needs the external NATS server")
	}
	s := acmetest.Start(t, acmetest.ServerMode)
	cfg := s.App.Config()
	nc, err := nats.Connect(cfg.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var dups atomic.Int64
	var mu sync.Mutex
	seenTypes := map[string]bool{}
	sub, err := nc.Subscribe(cfg.BusPrefix+"acme.>", func(m *nats.Msg) {
		if m.Header.Get("X-Duplicate") != "" || strings.Contains(m.Subject, ".dlq.") || m.Header.Get("ce-id") == "" {
			return
		}
		dup := nats.NewMsg(m.Subject)
		dup.Data = m.Data
		for k, v := range m.Header {
			if k != "Nats-Msg-Id" {
				dup.Header[k] = v
			}
		}
		dup.Header.Set("X-Duplicate", "1")
		if _, err := js.PublishMsg(context.Background(), dup, jetstream.WithMsgID(m.Header.Get("ce-id")+"-dup")); err == nil {
			dups.Add(1)
			mu.Lock()
			seenTypes[m.Header.Get("ce-type")] = true
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	sh := newShop(t, s, 5)
	_, ann := s.RegisterCustomer(t)
	_, bob := s.RegisterCustomer(t)
	ok := sh.buy(t, ann, 2, "tok_visa")
	declined := sh.buy(t, bob, 1, "tok_chargeDeclined")
	out := sh.outcome(t, ann, ok)
	if out["status"] != "COMPLETED" {
		t.Fatalf("checkout: %v", out)
	}
	if out := sh.outcome(t, bob, declined); out["status"] != "FAILED" || out["failureReason"] != "payment_declined" {
		t.Fatalf("declined: %v", out)
	}
	orderID := out["orderId"].(string)
	sh.waitStock(t, 5, 2, 3)
	job(t, s, orderID, "OPEN")
	s.Eventually(t, func() bool { return len(s.Do(t, "GET", "/api/v1/cart", bob, nil).Items()) == 1 })

	// one order, confirmed once; one picking job; one capture
	if items := s.Do(t, "GET", "/api/v1/orders", s.AdminToken, nil).Want(t, 200).Items(); len(items) != 1 || items[0]["status"] != "CONFIRMED" {
		t.Fatalf("orders: %v", items)
	}
	count := func(stream, typ string) int {
		n := 0
		for _, e := range s.Do(t, "GET", "/api/v1/admin/streams/"+stream+"/events", s.AdminToken, nil).Want(t, 200).Items() {
			if e["type"] == typ {
				n++
			}
		}
		return n
	}
	if n := count("order-"+orderID, "OrderConfirmed"); n != 1 {
		t.Fatalf("OrderConfirmed %d times", n)
	}
	var paymentID string
	for _, e := range s.Do(t, "GET", "/api/v1/admin/streams/checkout-"+ok+"/events", s.AdminToken, nil).Want(t, 200).Items() {
		if d, _ := e["data"].(map[string]any); e["type"] == "StepStarted" && d["paymentId"] != nil {
			paymentID = d["paymentId"].(string)
		}
	}
	if n := count("payment-"+paymentID, "PaymentSucceeded"); n != 1 {
		t.Fatalf("captured %d times", n)
	}
	if n := count("checkout-"+ok, "CheckoutCompleted"); n != 1 {
		t.Fatalf("CheckoutCompleted %d times", n)
	}
	if jobs := s.Do(t, "GET", "/api/v1/warehouse/picking-jobs", s.AdminToken, nil).Want(t, 200).Items(); len(jobs) != 1 {
		t.Fatalf("jobs: %v", jobs)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, typ := range []string{"CartCheckedOut", "ReserveInventory", "InventoryReserved", "AuthorizePayment", "PaymentAuthorized",
		"PaymentFailed", "CreateOrder", "OrderCreated", "CapturePayment", "PaymentSucceeded", "ConfirmOrder", "OrderConfirmed",
		"ReleaseInventory", "CheckoutCompleted", "CheckoutFailed"} {
		if !seenTypes[typ] {
			t.Errorf("%s was not duplicated (duplicated: %v)", typ, seenTypes)
		}
	}
	t.Logf("%d messages delivered twice", dups.Load())
}
