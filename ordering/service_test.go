package ordering

import (
	"bytes"
	"context"
	"encoding/json"
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

// tokens authenticates "tok-<customerId>".
type tokens struct{}

func (tokens) Authenticate(_ context.Context, tok string) (string, bool, error) {
	id, ok := strings.CutPrefix(tok, "tok-")
	return id, ok, nil
}

type env struct {
	m     *Module
	h     *estest.Host
	clock *fixedClock
	srv   *httptest.Server
}

const admin = "admin-token"

func start(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ordering.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg, err := es.NewRegistry(messages()...)
	if err != nil {
		t.Fatal(err)
	}
	// the messages of other contexts ordering consumes (declared by their owners)
	type anyPayload struct {
		A string `json:"a"`
	}
	type anyPayload2 struct {
		A string `json:"a"`
	}
	type anyPayload3 struct {
		A string `json:"a"`
	}
	if err := reg.Add(
		es.Define[anyPayload](es.MessageSpec{Name: "PaymentSucceeded", Kind: es.KindEvent, Owner: "payments"}),
		es.Define[anyPayload2](es.MessageSpec{Name: "PaymentRefunded", Kind: es.KindEvent, Owner: "payments"}),
		es.Define[anyPayload3](es.MessageSpec{Name: "OrderReadyForShipping", Kind: es.KindEvent, Owner: "warehouse"}),
	); err != nil {
		t.Fatal(err)
	}
	h := estest.NewHost(owner, st, reg)
	clock := &fixedClock{}
	clock.set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	m := New(clock)
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(admin)
	api.Auth = tokens{}
	m.Routes(api)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &env{m: m, h: h, clock: clock, srv: srv}
}

type resp struct {
	status int
	body   []byte
	header http.Header
}

func (r resp) code() string {
	var p struct{ Code string }
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

func (r resp) view(t *testing.T) View {
	t.Helper()
	var v View
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

func (e *env) do(t *testing.T, method, path, token string, body any) resp {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return resp{status: res.StatusCode, body: buf.Bytes(), header: res.Header}
}

func (e *env) want(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), status, code, r.body)
	}
}

// outbox returns the types of the commands order id sent.
func (e *env) outbox(t *testing.T, id string) []string {
	t.Helper()
	evs, err := e.h.Store().ReadStream(context.Background(), outboxStream(id), es.StreamQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func (e *env) outboxData(t *testing.T, id, typ string) map[string]any {
	t.Helper()
	evs, _ := e.h.Store().ReadStream(context.Background(), outboxStream(id), es.StreamQuery{})
	for _, ev := range evs {
		if ev.Type == typ {
			var m map[string]any
			_ = json.Unmarshal(ev.Data, &m)
			return m
		}
	}
	t.Fatalf("no %s in the outbox of %s", typ, id)
	return nil
}

var (
	usdM = func(n int64) acme.Money { return acme.Money{Amount: n, Currency: "USD"} }
)

// place delivers a CreateOrder for customer and returns the order id.
func (e *env) place(t *testing.T, customer string) string {
	t.Helper()
	id := acme.NewID()
	e.h.Deliver(t, "CreateOrder", acme.NewID(), CreateOrderV1{OrderID: id, CheckoutID: acme.NewID(), CustomerID: customer,
		LineItems: []LineItem{{ProductID: acme.NewID(), Name: "Tee", Quantity: 2, UnitPrice: usdM(1000), LineTotal: usdM(2000)}},
		Subtotal:  usdM(2000), Discount: usdM(0), TotalAmount: usdM(2000),
		ShippingAddress: Address{Name: "Ann", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"},
		PaymentID:       acme.NewID(), PaymentAuthorizationID: "auth_1"})
	return id
}

func TestOrderLifecycleOverHTTP(t *testing.T) {
	e := start(t)
	ann, bob := acme.NewID(), acme.NewID()
	id := e.place(t, ann)

	// the contract's order JSON
	r := e.do(t, "GET", "/api/v1/orders/"+id, "tok-"+ann, nil)
	e.want(t, r, 200, "")
	var raw map[string]any
	_ = json.Unmarshal(r.body, &raw)
	for _, k := range []string{"orderId", "customerId", "status", "lineItems", "subtotal", "discount", "totalAmount",
		"shippingAddress", "paymentAuthorizationId", "placedAt", "updatedAt", "version"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("order JSON lacks %q: %s", k, r.body)
		}
	}
	if _, ok := raw["trackingNumber"]; ok {
		t.Fatalf("trackingNumber before shipping: %s", r.body)
	}
	if v := r.view(t); v.Status != StatusPending || v.Version != 1 || v.CustomerID != ann || v.PaymentAuthorizationID != "auth_1" || v.TotalAmount != usdM(2000) {
		t.Fatalf("order = %+v", v)
	}
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id, "tok-"+bob, nil), 404, "not_found")
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id, "", nil), 401, "unauthorized")
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id, admin, nil), 200, "")
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+acme.NewID(), admin, nil), 404, "not_found")
	e.want(t, e.do(t, "GET", "/api/v1/orders/not-a-uuid", admin, nil), 404, "not_found")

	// a CreateOrder delivered again (another message) changes nothing
	e.h.Deliver(t, "CreateOrder", acme.NewID(), CreateOrderV1{OrderID: id, CustomerID: bob})
	if v := e.do(t, "GET", "/api/v1/orders/"+id, admin, nil).view(t); v.Version != 1 || v.CustomerID != ann {
		t.Fatalf("after a duplicate CreateOrder: %+v", v)
	}

	// shipping a pending order is invalid; confirm it (saga's ConfirmOrder)
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/ship", admin, ShipRequest{TrackingNumber: "1Z999", Carrier: "UPS"}), 409, "invalid_transition")
	e.clock.add(time.Minute)
	e.h.Deliver(t, "ConfirmOrder", acme.NewID(), ConfirmOrderV1{OrderID: id})
	e.h.Deliver(t, "ConfirmOrder", acme.NewID(), ConfirmOrderV1{OrderID: id}) // twice: no-op

	// ship: admin only, validated, deducts the stock
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/ship", "tok-"+ann, ShipRequest{TrackingNumber: "1Z999", Carrier: "UPS"}), 403, "forbidden")
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/ship", admin, ShipRequest{Carrier: "UPS"}), 422, "validation_failed")
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/ship", admin, map[string]any{"trackingNumber": "x", "carrier": "y", "extra": 1}), 400, "bad_request")
	e.clock.add(time.Minute)
	r = e.do(t, "POST", "/api/v1/orders/"+id+"/ship", admin, ShipRequest{TrackingNumber: "1Z999", Carrier: "UPS"})
	e.want(t, r, 200, "")
	if v := r.view(t); v.Status != StatusShipped || v.TrackingNumber != "1Z999" || v.Carrier != "UPS" || v.Version != 6 {
		t.Fatalf("shipped = %+v", v)
	}
	if r.header.Get("Acme-Position") == "" {
		t.Fatal("no Acme-Position on a command response")
	}
	if got := e.outbox(t, id); strings.Join(got, ",") != "DeductInventory" {
		t.Fatalf("outbox = %v", got)
	}
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/cancel", "tok-"+ann, CancelRequest{Reason: "late"}), 409, "invalid_transition")

	// deliver: the tracking number must match
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/deliver", admin, DeliverRequest{TrackingNumber: "OTHER"}), 422, "tracking_mismatch")
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/deliver", admin, DeliverRequest{}), 422, "validation_failed")
	e.clock.add(time.Minute)
	r = e.do(t, "POST", "/api/v1/orders/"+id+"/deliver", admin, DeliverRequest{TrackingNumber: "1Z999"})
	e.want(t, r, 200, "")
	if v := r.view(t); v.Status != StatusDelivered {
		t.Fatalf("delivered = %+v", v)
	}
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/deliver", admin, DeliverRequest{TrackingNumber: "1Z999"}), 409, "invalid_transition")

	// history: every event, oldest first, with the status after it
	r = e.do(t, "GET", "/api/v1/orders/"+id+"/history", "tok-"+ann, nil)
	e.want(t, r, 200, "")
	var hist History
	_ = json.Unmarshal(r.body, &hist)
	var types, statuses []string
	for i, it := range hist.Items {
		if it.Version != int64(i+1) || it.At.IsZero() {
			t.Fatalf("history item %d = %+v", i, it)
		}
		types, statuses = append(types, it.Type), append(statuses, it.Status)
	}
	// ConfirmOrder records the capture it implies first
	if strings.Join(types, ",") != "OrderCreated,OrderPaymentCaptured,OrderConfirmed,OrderStatusChanged,OrderShipped,OrderStatusChanged,OrderDelivered,OrderStatusChanged,OrderCompleted" ||
		strings.Join(statuses, ",") != "PENDING,PENDING,CONFIRMED,CONFIRMED,SHIPPED,SHIPPED,DELIVERED,DELIVERED,DELIVERED" {
		t.Fatalf("history = %v %v", types, statuses)
	}
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id+"/history", "tok-"+bob, nil), 404, "not_found")

	// temporal queries
	if v := e.do(t, "GET", "/api/v1/orders/"+id+"?version=1", "tok-"+ann, nil).view(t); v.Status != StatusPending || v.Version != 1 {
		t.Fatalf("version=1: %+v", v)
	}
	if v := e.do(t, "GET", "/api/v1/orders/"+id+"?version=5", "tok-"+ann, nil).view(t); v.Status != StatusShipped || v.Version != 5 {
		t.Fatalf("version=5: %+v", v)
	}
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id+"?version=0", admin, nil), 422, "validation_failed")
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id+"?version=99", admin, nil), 404, "not_found") // past the latest
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id+"?asOf=yesterday", admin, nil), 422, "validation_failed")
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id+"?asOf=2000-01-01T00:00:00Z", admin, nil), 404, "not_found")
	e.want(t, e.do(t, "GET", "/api/v1/orders/"+id+"?asOf=0001-01-01T00:00:00Z", admin, nil), 404, "not_found") // the zero time is a time
	e.asOfAgreesWithHistory(t, id)
	if v := e.do(t, "GET", "/api/v1/orders/"+id+"?asOf="+hist.Items[2].At.Format(time.RFC3339Nano), admin, nil).view(t); v.Version != 4 || v.Status != StatusConfirmed {
		t.Fatalf("asOf the confirmation: %+v", v)
	}
	if v := e.do(t, "GET", "/api/v1/orders/"+id+"?asOf="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), admin, nil).view(t); v.Status != StatusDelivered {
		t.Fatalf("asOf the future: %+v", v)
	}
}

func TestCancelVoidsOrRefunds(t *testing.T) {
	e := start(t)
	ann, bob := acme.NewID(), acme.NewID()

	// before capture: release + void
	pending := e.place(t, ann)
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+pending+"/cancel", "tok-"+bob, CancelRequest{Reason: "x"}), 404, "not_found")
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+pending+"/cancel", "tok-"+ann, CancelRequest{Reason: "a\x00b"}), 422, "validation_failed")
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+pending+"/cancel", "", CancelRequest{Reason: "x"}), 401, "unauthorized")
	r := e.do(t, "POST", "/api/v1/orders/"+pending+"/cancel", "tok-"+ann, CancelRequest{Reason: "changed my mind"})
	e.want(t, r, 200, "")
	if v := r.view(t); v.Status != StatusCancelled {
		t.Fatalf("cancelled = %+v", v)
	}
	if got := strings.Join(e.outbox(t, pending), ","); got != "ReleaseInventory,VoidPayment" {
		t.Fatalf("outbox = %s", got)
	}
	if rel := e.outboxData(t, pending, "ReleaseInventory"); rel["reason"] != "ORDER_CANCELLED" || rel["checkoutId"] == "" {
		t.Fatalf("release = %v", rel)
	}
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+pending+"/cancel", "tok-"+ann, CancelRequest{}), 409, "invalid_transition")

	// a capture learnt after the cancellation is refunded
	var o View
	o = e.do(t, "GET", "/api/v1/orders/"+pending, admin, nil).view(t)
	loaded, _ := e.m.Load(context.Background(), pending, es.StreamQuery{})
	e.h.Deliver(t, "PaymentSucceeded", acme.NewID(), map[string]any{"paymentId": loaded.State.PaymentID, "orderId": pending})
	if got := strings.Join(e.outbox(t, pending), ","); got != "ReleaseInventory,VoidPayment,RefundPayment" {
		t.Fatalf("outbox after a late capture = %s (order %+v)", got, o)
	}

	// after capture (confirmed): release + full refund, by an admin, empty body
	confirmed := e.place(t, ann)
	e.h.Deliver(t, "ConfirmOrder", acme.NewID(), ConfirmOrderV1{OrderID: confirmed})
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+confirmed+"/cancel", admin, nil), 200, "")
	if got := strings.Join(e.outbox(t, confirmed), ","); got != "ReleaseInventory,RefundPayment" {
		t.Fatalf("outbox = %s", got)
	}
	if ref := e.outboxData(t, confirmed, "RefundPayment"); ref["amount"].(map[string]any)["amount"].(float64) != 2000 || ref["orderId"] != confirmed {
		t.Fatalf("refund = %v", ref)
	}

	// the saga's CancelOrder of a shipped order is a no-op
	shipped := e.place(t, ann)
	e.h.Deliver(t, "ConfirmOrder", acme.NewID(), ConfirmOrderV1{OrderID: shipped})
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+shipped+"/ship", admin, ShipRequest{TrackingNumber: "T1", Carrier: "DHL"}), 200, "")
	e.h.Deliver(t, "CancelOrder", acme.NewID(), CancelOrderV1{OrderID: shipped, Reason: "PAYMENT_FAILED"})
	if v := e.do(t, "GET", "/api/v1/orders/"+shipped, admin, nil).view(t); v.Status != StatusShipped {
		t.Fatalf("after CancelOrder: %+v", v)
	}
	e.h.Deliver(t, "CancelOrder", acme.NewID(), CancelOrderV1{OrderID: acme.NewID()}) // unknown: no-op

	// ready for shipping is recorded once
	ready := e.place(t, ann)
	e.h.Deliver(t, "ConfirmOrder", acme.NewID(), ConfirmOrderV1{OrderID: ready})
	e.h.Deliver(t, "OrderReadyForShipping", acme.NewID(), map[string]any{"jobId": acme.NewID(), "orderId": ready})
	e.h.Deliver(t, "OrderReadyForShipping", acme.NewID(), map[string]any{"jobId": acme.NewID(), "orderId": ready})
	if v := e.do(t, "GET", "/api/v1/orders/"+ready, admin, nil).view(t); !v.ReadyForShipping || v.Version != 5 { // created, captured, confirmed, status changed, ready
		t.Fatalf("ready = %+v", v)
	}
}

func TestOrderLists(t *testing.T) {
	e := start(t)
	ann, bob := acme.NewID(), acme.NewID()
	a1 := e.place(t, ann)
	e.clock.add(time.Second)
	a2 := e.place(t, ann)
	e.clock.add(time.Second)
	b1 := e.place(t, bob)
	e.h.Deliver(t, "ConfirmOrder", acme.NewID(), ConfirmOrderV1{OrderID: a2})

	list := func(token, query string) (ids []string, total int) {
		t.Helper()
		r := e.do(t, "GET", "/api/v1/orders"+query, token, nil)
		e.want(t, r, 200, "")
		var l httpapi.List[View]
		_ = json.Unmarshal(r.body, &l)
		for _, v := range l.Items {
			ids = append(ids, v.OrderID)
		}
		return ids, l.Total
	}
	join := func(ids ...string) string { return strings.Join(ids, ",") }
	if ids, total := list("tok-"+ann, ""); join(ids...) != join(a2, a1) || total != 2 {
		t.Fatalf("ann's orders = %v (%d)", ids, total)
	}
	if ids, _ := list("tok-"+ann, "?status=CONFIRMED"); join(ids...) != a2 {
		t.Fatalf("ann's confirmed = %v", ids)
	}
	if ids, _ := list("tok-"+ann, "?customerId="+bob); len(ids) != 0 {
		t.Fatalf("ann sees bob's orders: %v", ids)
	}
	if ids, total := list(admin, ""); join(ids...) != join(b1, a2, a1) || total != 3 {
		t.Fatalf("all orders = %v", ids)
	}
	if ids, _ := list(admin, "?customerId="+bob); join(ids...) != b1 {
		t.Fatalf("bob's orders = %v", ids)
	}
	if ids, _ := list(admin, "?status=PENDING&pageSize=1&page=2"); join(ids...) != a1 {
		t.Fatalf("page 2 of pending = %v", ids)
	}
	e.want(t, e.do(t, "GET", "/api/v1/orders?status=LOST", admin, nil), 422, "validation_failed")
	e.want(t, e.do(t, "GET", "/api/v1/orders?customerId=nope", admin, nil), 422, "validation_failed")
	e.want(t, e.do(t, "GET", "/api/v1/orders?pageSize=101", admin, nil), 422, "validation_failed")
	e.want(t, e.do(t, "GET", "/api/v1/orders", "", nil), 401, "unauthorized")
}

// asOfAgreesWithHistory checks that ?asOf= reads the times the history
// shows: at an entry's time the order includes it, a microsecond before it
// does not; and the history never goes back in time.
func (e *env) asOfAgreesWithHistory(t *testing.T, id string) {
	t.Helper()
	var hist History
	r := e.do(t, "GET", "/api/v1/orders/"+id+"/history", admin, nil)
	e.want(t, r, 200, "")
	if err := json.Unmarshal(r.body, &hist); err != nil || len(hist.Items) == 0 {
		t.Fatalf("history %s: %v", r.body, err)
	}
	lastAt := func(at time.Time) int64 { // the version history says the order had at at
		var v int64
		for _, it := range hist.Items {
			if !it.At.After(at) {
				v = it.Version
			}
		}
		return v
	}
	for i, it := range hist.Items {
		if i > 0 && it.At.Before(hist.Items[i-1].At) {
			t.Fatalf("history goes back in time at item %d", i)
		}
		for _, at := range []time.Time{it.At, it.At.Add(-time.Microsecond)} {
			want := lastAt(at)
			r := e.do(t, "GET", "/api/v1/orders/"+id+"?asOf="+at.Format(time.RFC3339Nano), admin, nil)
			if want == 0 {
				e.want(t, r, 404, "not_found")
				continue
			}
			if v := r.view(t); v.Version != want || v.Status != hist.Items[want-1].Status {
				t.Fatalf("asOf %s (history item %d at %s): version %d %s, want %d", at.Format(time.RFC3339Nano), i, it.At.Format(time.RFC3339Nano), v.Version, v.Status, want)
			}
		}
	}
}

// The times an order shows (placedAt, updatedAt) are taken just before its
// events are recorded: asOf and the history read them alike, so asOf set to
// placedAt includes the creation and asOf just before a history entry's
// time does not include it.
func TestAsOfAgreesWithHistoryAtBusinessTimes(t *testing.T) {
	e := start(t)
	ann := acme.NewID()
	e.clock.set(time.Now().Add(-10 * time.Millisecond))
	id := e.place(t, ann)
	v := e.do(t, "GET", "/api/v1/orders/"+id, admin, nil).view(t)
	if got := e.do(t, "GET", "/api/v1/orders/"+id+"?asOf="+v.PlacedAt.Format(time.RFC3339Nano), admin, nil).view(t); got.Version != 1 {
		t.Fatalf("asOf placedAt: version %d, want 1", got.Version)
	}
	e.clock.set(time.Now().Add(-10 * time.Millisecond))
	e.h.Deliver(t, "ConfirmOrder", acme.NewID(), ConfirmOrderV1{OrderID: id})
	e.clock.set(time.Now().Add(-10 * time.Millisecond))
	e.want(t, e.do(t, "POST", "/api/v1/orders/"+id+"/ship", admin, ShipRequest{TrackingNumber: "1Z9", Carrier: "UPS"}), 200, "")
	e.asOfAgreesWithHistory(t, id)
}
