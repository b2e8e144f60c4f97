package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/httpapi"
	"acme/sqlite"
)

type fixedClock struct{ now atomic.Pointer[time.Time] }

func (c *fixedClock) Now() time.Time      { return *c.now.Load() }
func (c *fixedClock) set(t time.Time)     { c.now.Store(&t) }
func (c *fixedClock) add(d time.Duration) { c.set(c.Now().Add(d)) }

type env struct {
	m     *Module
	h     *estest.Host
	clock *fixedClock
}

func start(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "checkout.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := es.NewRegistry(messages()...)
	if err != nil {
		t.Fatal(err)
	}
	// the replies of other contexts (declared by their owners; payloads irrelevant here)
	for i, name := range []string{"CartCheckedOut", "InventoryReserved", "InventoryUnavailable", "PaymentAuthorized",
		"PaymentFailed", "PaymentSucceeded", "OrderCreated", "OrderConfirmed"} {
		if err := reg.Add(foreign(i, name)); err != nil {
			t.Fatal(err)
		}
	}
	h := estest.NewHost(owner, st, reg)
	clock := &fixedClock{}
	clock.set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	// MaxIdle long: the test drives deadlines with FireDeadlines and its fake clock.
	m := New(Config{StepTimeout: 30 * time.Second, Clock: clock, MaxIdle: time.Hour})
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close()
		_ = st.Close()
	})
	return &env{m: m, h: h, clock: clock}
}

// foreign declares a message of another context with a distinct Go type.
func foreign(i int, name string) es.MessageType {
	owner := "other"
	kinds := []func(es.MessageSpec) es.MessageType{
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A0 string }](s) },
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A1 string }](s) },
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A2 string }](s) },
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A3 string }](s) },
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A4 string }](s) },
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A5 string }](s) },
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A6 string }](s) },
		func(s es.MessageSpec) es.MessageType { return es.Define[struct{ A7 string }](s) },
	}
	return kinds[i](es.MessageSpec{Name: name, Kind: es.KindEvent, Owner: owner})
}

// sent returns the commands the saga of checkoutID sent, in order.
func (e *env) sent(t *testing.T, checkoutID string) []es.Event {
	t.Helper()
	evs, err := e.h.Store().ReadStream(context.Background(), streamID(checkoutID)+".outbox", es.StreamQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func types(evs []es.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

func data(t *testing.T, e es.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) saga(t *testing.T, id string) Saga {
	t.Helper()
	l, err := e.m.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l.State
}

func (e *env) checkout(t *testing.T) string {
	t.Helper()
	c := cart
	c.CheckoutID = acme.NewID()
	c.CartID = acme.NewID()
	if !e.h.Deliver(t, "CartCheckedOut", acme.NewID(), c) {
		t.Fatal("CartCheckedOut not applied")
	}
	return c.CheckoutID
}

func TestSagaHappyPathAndDuplicates(t *testing.T) {
	e := start(t)
	id := e.checkout(t)
	// CartCheckedOut delivered again as another message: still one saga
	c := cart
	c.CheckoutID = id
	e.h.Deliver(t, "CartCheckedOut", acme.NewID(), c)
	if got := types(e.sent(t, id)); got != "ReserveInventory" {
		t.Fatalf("sent %s", got)
	}

	// every reply is delivered twice (same message id: the inbox; new id: the decider)
	twice := func(typ string, payload map[string]any) {
		t.Helper()
		mid := acme.NewID()
		if !e.h.Deliver(t, typ, mid, payload) {
			t.Fatalf("%s not applied", typ)
		}
		if e.h.Deliver(t, typ, mid, payload) {
			t.Fatalf("%s applied twice", typ)
		}
		e.h.Deliver(t, typ, acme.NewID(), payload)
	}
	twice("InventoryReserved", map[string]any{"checkoutId": id})
	sent := e.sent(t, id)
	if types(sent) != "ReserveInventory,AuthorizePayment" {
		t.Fatalf("sent %s", types(sent))
	}
	auth := data(t, sent[1])
	if auth["checkoutId"] != id || auth["amount"].(map[string]any)["amount"].(float64) != 1800 || !acme.ValidID(auth["paymentId"].(string)) {
		t.Fatalf("AuthorizePayment = %v", auth)
	}
	paymentID := auth["paymentId"].(string)
	twice("PaymentAuthorized", map[string]any{"checkoutId": id, "paymentId": paymentID, "authorizationId": "auth_9"})
	sent = e.sent(t, id)
	create := data(t, sent[2])
	orderID := create["orderId"].(string)
	if types(sent) != "ReserveInventory,AuthorizePayment,CreateOrder" || create["paymentAuthorizationId"] != "auth_9" || create["paymentId"] != paymentID {
		t.Fatalf("sent %s, CreateOrder %v", types(sent), create)
	}
	twice("OrderCreated", map[string]any{"checkoutId": id, "orderId": orderID})
	twice("PaymentSucceeded", map[string]any{"checkoutId": id, "paymentId": paymentID, "orderId": orderID})
	twice("OrderConfirmed", map[string]any{"checkoutId": id, "orderId": orderID})
	if got := types(e.sent(t, id)); got != "ReserveInventory,AuthorizePayment,CreateOrder,CapturePayment,ConfirmOrder" {
		t.Fatalf("sent %s", got)
	}
	s := e.saga(t, id)
	if s.Status != StatusCompleted || s.OrderID != orderID {
		t.Fatalf("saga = %+v", s)
	}
	evs, _ := e.h.Store().ReadStream(context.Background(), streamID(id), es.StreamQuery{})
	if last := evs[len(evs)-1]; last.Type != "CheckoutCompleted" || data(t, last)["orderId"] != orderID {
		t.Fatalf("last event %s %s", last.Type, last.Data)
	}
	// deadlines never fire on a completed saga
	e.clock.add(time.Hour)
	if _, err := e.m.FireDeadlines(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.saga(t, id); s.Status != StatusCompleted {
		t.Fatalf("saga = %+v", s)
	}
}

func TestSagaFailures(t *testing.T) {
	e := start(t)

	// insufficient stock
	id := e.checkout(t)
	e.h.Deliver(t, "InventoryUnavailable", acme.NewID(), map[string]any{"checkoutId": id})
	if s := e.saga(t, id); s.Status != StatusFailed || s.FailureReason != ReasonInsufficientStock {
		t.Fatalf("saga = %+v", s)
	}
	if got := types(e.sent(t, id)); got != "ReserveInventory" {
		t.Fatalf("sent %s", got)
	}

	// declined card: the stock is released
	id = e.checkout(t)
	e.h.Deliver(t, "InventoryReserved", acme.NewID(), map[string]any{"checkoutId": id})
	pay := data(t, e.sent(t, id)[1])["paymentId"]
	e.h.Deliver(t, "PaymentFailed", acme.NewID(), map[string]any{"checkoutId": id, "paymentId": pay, "reason": "payment_declined"})
	if s := e.saga(t, id); s.Status != StatusFailed || s.FailureReason != ReasonPaymentDeclined {
		t.Fatalf("saga = %+v", s)
	}
	sent := e.sent(t, id)
	if types(sent) != "ReserveInventory,AuthorizePayment,ReleaseInventory" || data(t, sent[2])["reason"] != "CHECKOUT_FAILED" {
		t.Fatalf("sent %s", types(sent))
	}
}

func TestSagaDeadlines(t *testing.T) {
	e := start(t)
	ctx := context.Background()

	atReserve := e.checkout(t)
	e.clock.add(10 * time.Second)
	atAuthorize := e.checkout(t)
	e.h.Deliver(t, "InventoryReserved", acme.NewID(), map[string]any{"checkoutId": atAuthorize})

	// not yet due: nothing; the earliest deadline is the first saga's
	next, err := e.m.FireDeadlines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.saga(t, atReserve).Deadline; !next.Equal(want) {
		t.Fatalf("next deadline %v, want %v", next, want)
	}

	// the reservation times out: release, fail
	e.clock.add(20 * time.Second)
	if _, err := e.m.FireDeadlines(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.saga(t, atReserve)
	if s.Status != StatusFailed || !s.TimedOut || s.FailureReason != ReasonInsufficientStock {
		t.Fatalf("saga = %+v", s)
	}
	if got := types(e.sent(t, atReserve)); got != "ReserveInventory,ReleaseInventory" {
		t.Fatalf("sent %s", got)
	}
	if s := e.saga(t, atAuthorize); s.Status != StatusRunning {
		t.Fatalf("the other saga timed out early: %+v", s)
	}
	// a late InventoryReserved is released (once)
	e.h.Deliver(t, "InventoryReserved", acme.NewID(), map[string]any{"checkoutId": atReserve})
	e.h.Deliver(t, "InventoryReserved", acme.NewID(), map[string]any{"checkoutId": atReserve})
	if got := types(e.sent(t, atReserve)); got != "ReserveInventory,ReleaseInventory,ReleaseInventory" {
		t.Fatalf("sent %s", got)
	}

	// the authorization times out: void + release; a late authorization is voided
	e.clock.add(30 * time.Second)
	if _, err := e.m.FireDeadlines(ctx); err != nil {
		t.Fatal(err)
	}
	s = e.saga(t, atAuthorize)
	if s.Status != StatusFailed || s.FailureReason != ReasonPaymentError {
		t.Fatalf("saga = %+v", s)
	}
	e.h.Deliver(t, "PaymentAuthorized", acme.NewID(), map[string]any{"checkoutId": atAuthorize, "paymentId": s.PaymentID, "authorizationId": "a"})
	if got := types(e.sent(t, atAuthorize)); got != "ReserveInventory,AuthorizePayment,ReleaseInventory,VoidPayment,VoidPayment" {
		t.Fatalf("sent %s", got)
	}
	// nothing is pending any more
	if next, err := e.m.FireDeadlines(ctx); err != nil || !next.IsZero() {
		t.Fatalf("next = %v, %v", next, err)
	}
}

// TestDeadlineWorker runs the real worker with the real clock and a short timeout.
func TestDeadlineWorker(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "checkout.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := es.NewRegistry(messages()...)
	_ = reg.Add(foreign(0, "CartCheckedOut"), foreign(1, "InventoryReserved"))
	h := estest.NewHost(owner, st, reg)
	m := New(Config{StepTimeout: 200 * time.Millisecond, MaxIdle: time.Hour})
	defer func() { _ = m.Close(); _ = st.Close() }()
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	e := &env{m: m, h: h}
	// the worker sleeps "an hour" (nothing pending): a new saga's deadline wakes it
	time.Sleep(50 * time.Millisecond)
	begin := time.Now()
	id := e.checkout(t)
	deadline := time.Now().Add(5 * time.Second)
	for e.saga(t, id).Status != StatusFailed {
		if time.Now().After(deadline) {
			t.Fatalf("the step did not time out: %+v", e.saga(t, id))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(begin); took < 200*time.Millisecond || took > 2*time.Second {
		t.Fatalf("timed out after %v, want about 200ms", took)
	}
}

func TestAdminSagas(t *testing.T) {
	e := start(t)
	running := e.checkout(t)
	e.clock.add(time.Second)
	failed := e.checkout(t)
	e.h.Deliver(t, "InventoryUnavailable", acme.NewID(), map[string]any{"checkoutId": failed})

	api := httpapi.New("admin")
	e.m.Routes(api)
	srv := httptest.NewServer(api)
	defer srv.Close()
	get := func(path, token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	status, body := get("/api/v1/admin/sagas", "admin")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 2 || body["total"].(float64) != 2 {
		t.Fatalf("%d %v", status, body)
	}
	first := items[0].(map[string]any)
	if first["checkoutId"] != failed || first["status"] != StatusFailed || first["state"] != StatusFailed || first["failureReason"] != ReasonInsufficientStock ||
		first["deadline"] != nil || first["step"] != StepReserveInventory {
		t.Fatalf("failed saga = %v", first)
	}
	second := items[1].(map[string]any)
	if second["checkoutId"] != running || second["status"] != StatusRunning || second["deadline"] != "2026-11-23T10:00:30Z" ||
		second["startedAt"] != "2026-11-23T10:00:00Z" || second["step"] != StepReserveInventory {
		t.Fatalf("running saga = %v", second)
	}
	if _, has := second["orderId"]; has {
		t.Fatalf("orderId before the order exists: %v", second)
	}
	for _, q := range []string{"RUNNING", "PENDING"} {
		_, body = get("/api/v1/admin/sagas?status="+q, "admin")
		if items, _ := body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["checkoutId"] != running {
			t.Fatalf("status=%s: %v", q, body)
		}
	}
	if status, body := get("/api/v1/admin/sagas?status=DONE", "admin"); status != 422 || body["code"] != "validation_failed" {
		t.Fatalf("%d %v", status, body)
	}
	if status, _ := get("/api/v1/admin/sagas", ""); status != 401 {
		t.Fatalf("anonymous: %d", status)
	}
}

// Replies of several sagas apply as one batch (one commit), each with its own
// message's metadata; two replies of one saga in a batch are refused, so the
// platform applies them one at a time.
func TestRepliesBatch(t *testing.T) {
	e := start(t)
	a, b := e.checkout(t), e.checkout(t)
	msg := func(checkoutID string) es.Message {
		m := estest.Message(t, "InventoryReserved", "", map[string]any{"checkoutId": checkoutID})
		m.Metadata.CorrelationID = "corr-" + checkoutID
		return m
	}
	ms := []es.Message{msg(a), msg(b)}
	c, err := e.m.onReplies(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	c.InboxIDs = []string{"checkout.replies/" + ms[0].ID, "checkout.replies/" + ms[1].ID}
	if _, err := e.h.Store().Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b} {
		sent := e.sent(t, id)
		if types(sent) != "ReserveInventory,AuthorizePayment" {
			t.Fatalf("%s sent %s", id, types(sent))
		}
		if got := sent[1].Metadata.CorrelationID; got != "corr-"+id {
			t.Fatalf("%s: AuthorizePayment correlation %q", id, got)
		}
		if s := e.saga(t, id); s.Step != StepAuthorizePayment {
			t.Fatalf("%s: saga %+v", id, s)
		}
	}
	if _, err := e.m.onReplies(context.Background(), []es.Message{msg(a), msg(a)}); !errors.Is(err, errSagaTwice) {
		t.Fatalf("two replies of one saga: %v", err)
	}
}
