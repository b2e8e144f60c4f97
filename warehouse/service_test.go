package warehouse

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

type clock struct{}

func (clock) Now() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) }

func startTest(t *testing.T) (*Module, *estest.Host) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg, err := es.NewRegistry(messages()...)
	if err != nil {
		t.Fatal(err)
	}
	_ = reg.Add(es.Define[struct{ A string }](es.MessageSpec{Name: "OrderConfirmed", Kind: es.KindEvent, Owner: "ordering"}),
		es.Define[struct{ B string }](es.MessageSpec{Name: "OrderCancelled", Kind: es.KindEvent, Owner: "ordering"}),
		es.Define[struct{ C string }](es.MessageSpec{Name: "OrderShipped", Kind: es.KindEvent, Owner: "ordering"}))
	h := estest.NewHost(owner, st, reg)
	m := New(clock{})
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return m, h
}

func confirmed(orderID string) map[string]any {
	return map[string]any{"orderId": orderID, "checkoutId": acme.NewID(), "customerId": "c1",
		"lineItems": []map[string]any{{"productId": "p1", "variantId": "", "name": "Lamp", "quantity": 2,
			"unitPrice": map[string]any{"amount": 100, "currency": "USD"}}}}
}

func TestJobsFromOrderEvents(t *testing.T) {
	m, h := startTest(t)
	ctx := context.Background()
	list := func(status string) []View {
		t.Helper()
		v, _, err := m.List(ctx, status, "", 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// OrderConfirmed delivered twice (two message ids): one job
	o1 := acme.NewID()
	h.Deliver(t, "OrderConfirmed", acme.NewID(), confirmed(o1))
	h.Deliver(t, "OrderConfirmed", acme.NewID(), confirmed(o1))
	jobs := list("")
	if len(jobs) != 1 || jobs[0].OrderID != o1 || jobs[0].JobID != JobID(o1) || jobs[0].Status != StatusOpen ||
		len(jobs[0].LineItems) != 1 || jobs[0].LineItems[0].Quantity != 2 || jobs[0].LineItems[0].Name != "Lamp" {
		t.Fatalf("jobs = %+v", jobs)
	}

	// pick, pack: OrderPacked and OrderReadyForShipping
	if _, err := m.Execute(ctx, JobID(o1), Pick{At: clock{}.Now()}); err != nil {
		t.Fatal(err)
	}
	res, err := m.Execute(ctx, JobID(o1), Pack{At: clock{}.Now()})
	if err != nil || res.State.Status != StatusPacked {
		t.Fatalf("pack: %+v %v", res.State, err)
	}
	if len(res.Events) != 2 || res.Events[0].Type != "OrderPacked" || res.Events[1].Type != "OrderReadyForShipping" {
		t.Fatalf("pack events: %+v", res.Events)
	}
	var ready map[string]any
	_ = json.Unmarshal(res.Events[1].Data, &ready)
	if ready["orderId"] != o1 || ready["jobId"] != JobID(o1) {
		t.Fatalf("OrderReadyForShipping = %v", ready)
	}
	if jobs := list(StatusPacked); len(jobs) != 1 || jobs[0].Version != res.Version || res.Version != 4 { // the list shows what pack answered
		t.Fatalf("packed = %+v", jobs)
	}

	// cancelled with the order: gone from the default list, shown with ?status=CANCELLED
	h.Deliver(t, "OrderCancelled", acme.NewID(), map[string]any{"orderId": o1, "reason": "CUSTOMER_REQUESTED"})
	if jobs := list(""); len(jobs) != 0 {
		t.Fatalf("live jobs = %+v", jobs)
	}
	if jobs := list(StatusCancelled); len(jobs) != 1 || jobs[0].OrderID != o1 || len(jobs[0].LineItems) != 1 {
		t.Fatalf("cancelled = %+v", jobs)
	}

	// cancelled before it was confirmed (never confirmed, or events out of
	// order): no job opens, and none is listed, not even as cancelled
	o2 := acme.NewID()
	h.Deliver(t, "OrderCancelled", acme.NewID(), map[string]any{"orderId": o2, "reason": "x"})
	h.Deliver(t, "OrderConfirmed", acme.NewID(), confirmed(o2))
	if jobs := list(""); len(jobs) != 0 {
		t.Fatalf("live jobs = %+v", jobs)
	}
	if jobs := list(StatusCancelled); len(jobs) != 1 || jobs[0].OrderID != o1 {
		t.Fatalf("cancelled = %+v, want only the opened job of %s", jobs, o1)
	}
	if _, err := m.Execute(ctx, JobID(o2), Pick{At: clock{}.Now()}); acme.ErrorCode(err) != acme.CodeInvalidTransition {
		t.Fatalf("pick a cancelled job: %v", err)
	}

	// shipped without the warehouse's steps: the job leaves the pickers'
	// list (?status=OPEN), stays in the default one as SHIPPED, refuses pick
	o3 := acme.NewID()
	h.Deliver(t, "OrderConfirmed", acme.NewID(), confirmed(o3))
	if jobs := list(StatusOpen); len(jobs) != 1 || jobs[0].OrderID != o3 {
		t.Fatalf("open jobs = %+v", jobs)
	}
	h.Deliver(t, "OrderShipped", acme.NewID(), map[string]any{"orderId": o3, "trackingNumber": "T1"})
	h.Deliver(t, "OrderShipped", acme.NewID(), map[string]any{"orderId": o3, "trackingNumber": "T1"})
	if jobs := list(StatusOpen); len(jobs) != 0 {
		t.Fatalf("open jobs after shipping = %+v", jobs)
	}
	if jobs := list(""); len(jobs) != 1 || jobs[0].OrderID != o3 || jobs[0].Status != StatusShipped || jobs[0].Version != 2 || len(jobs[0].LineItems) != 1 {
		t.Fatalf("jobs after shipping = %+v", jobs)
	}
	if _, err := m.Execute(ctx, JobID(o3), Pick{At: clock{}.Now()}); acme.ErrorCode(err) != acme.CodeInvalidTransition {
		t.Fatalf("pick a shipped job: %v", err)
	}
	if _, err := m.Execute(ctx, "nope", Pick{}); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("pick an unknown job: %v", err)
	}
}
