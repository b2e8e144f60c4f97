package payments

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/httpapi"
	"acme/sqlite"
)

// testHost is estest.Host with deliver returning the error (some tests expect one).
type testHost struct{ *estest.Host }

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func startPayments(t testing.TB, cfg Config) (*Module, *testHost) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "payments.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m := New(cfg)
	reg, err := es.NewRegistry(m.Messages()...)
	if err != nil {
		t.Fatal(err)
	}
	h := &testHost{estest.NewHost("payments", st, reg)}
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return m, h
}

// message builds the bus message of a command.
func message[T any](t testing.TB, msg *es.Msg[T], v T) es.Message {
	t.Helper()
	e := msg.New(acme.NewID(), v, es.Metadata{})
	return es.Message{ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, Source: "checkout", Data: e.Data}
}

// deliver applies m as the platform does (inbox, retry on ErrConcurrency); a
// duplicate is not an error.
func (h *testHost) deliver(t testing.TB, m es.Message) error {
	t.Helper()
	_, err := h.Apply(context.Background(), m)
	return err
}

func (h *testHost) events(t *testing.T, paymentID string) []string {
	t.Helper()
	evs, err := h.Store().ReadStream(context.Background(), StreamID(paymentID), es.StreamQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func (h *testHost) last(t *testing.T, paymentID string) map[string]any {
	t.Helper()
	evs, _ := h.Store().ReadStream(context.Background(), StreamID(paymentID), es.StreamQuery{})
	var m map[string]any
	_ = json.Unmarshal(evs[len(evs)-1].Data, &m)
	return m
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func authorizeMsg(t testing.TB, id, token string) es.Message {
	return message(t, AuthorizePayment, AuthorizePaymentV1{PaymentID: id, CheckoutID: "c-" + id, CustomerID: "u1",
		Amount: acme.Money{Amount: 4200, Currency: "USD"}, PaymentMethod: PaymentMethod{Type: "card", Token: token}})
}

func TestPaymentsConsumer(t *testing.T) {
	proc := NewCardProcessor()
	_, h := startPayments(t, Config{Processor: proc, Clock: fixedClock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}})

	t.Run("authorize, capture at most once", func(t *testing.T) {
		auth := authorizeMsg(t, "p1", "tok_visa")
		must(t, h.deliver(t, auth))
		must(t, h.deliver(t, auth))                              // redelivery: the inbox drops it
		must(t, h.deliver(t, authorizeMsg(t, "p1", "tok_visa"))) // a second request: decided once already
		capture := message(t, CapturePayment, CapturePaymentV1{PaymentID: "p1", CheckoutID: "c-p1", OrderID: "o1"})
		// A crash between the processor's capture and the commit: the handler's
		// commit is lost, the message comes again; the idempotency key makes the
		// processor answer the first capture without taking the money again.
		if _, err := h.Handler(capture.Type)(context.Background(), capture); err != nil {
			t.Fatal(err)
		}
		must(t, h.deliver(t, capture))
		must(t, h.deliver(t, message(t, CapturePayment, CapturePaymentV1{PaymentID: "p1", CheckoutID: "c-p1", OrderID: "o1"})))
		if got := strings.Join(h.events(t, "p1"), ","); got != "PaymentRequested,PaymentAuthorized,PaymentSucceeded" {
			t.Fatalf("events %s", got)
		}
		if proc.Count(OpAuthorize) != 1 || proc.Count(OpCapture) != 1 {
			t.Fatalf("processor authorized %d, captured %d times", proc.Count(OpAuthorize), proc.Count(OpCapture))
		}
		if e := h.last(t, "p1"); e["orderId"] != "o1" || e["processorReference"] != "ch_p1" {
			t.Fatalf("PaymentSucceeded %v", e)
		}
		// Refund once, however often asked.
		for range 3 {
			must(t, h.deliver(t, message(t, RefundPayment, RefundPaymentV1{PaymentID: "p1", OrderID: "o1", Reason: "cancelled"})))
		}
		if got := strings.Join(h.events(t, "p1"), ","); got != "PaymentRequested,PaymentAuthorized,PaymentSucceeded,RefundRequested,PaymentRefunded" {
			t.Fatalf("events %s", got)
		}
		if proc.Count(OpRefund) != 1 {
			t.Fatalf("refunded %d times", proc.Count(OpRefund))
		}
	})

	t.Run("declines", func(t *testing.T) {
		for id, want := range map[string][2]string{
			"tok_chargeDeclined":                  {"payment_declined", "generic_decline"},
			"tok_chargeDeclinedInsufficientFunds": {"payment_declined", "insufficient_funds"},
			"tok_unknown":                         {"payment_error", "invalid_token"},
		} {
			must(t, h.deliver(t, authorizeMsg(t, id, id)))
			e := h.last(t, id)
			if e["reason"] != want[0] || e["declineCode"] != want[1] || e["operation"] != "authorize" || e["checkoutId"] != "c-"+id {
				t.Fatalf("%s: PaymentFailed %v", id, e)
			}
		}
	})

	t.Run("capture after void fails", func(t *testing.T) {
		must(t, h.deliver(t, authorizeMsg(t, "p2", "tok_mastercard")))
		must(t, h.deliver(t, message(t, VoidPayment, VoidPaymentV1{PaymentID: "p2", CheckoutID: "c-p2", Reason: "order failed"})))
		must(t, h.deliver(t, message(t, CapturePayment, CapturePaymentV1{PaymentID: "p2", CheckoutID: "c-p2", OrderID: "o2"})))
		if got := strings.Join(h.events(t, "p2"), ","); got != "PaymentRequested,PaymentAuthorized,PaymentVoided,PaymentFailed" {
			t.Fatalf("events %s", got)
		}
		if e := h.last(t, "p2"); e["reason"] != "payment_error" || e["operation"] != "capture" {
			t.Fatalf("PaymentFailed %v", e)
		}
	})

	t.Run("void before authorize holds nothing", func(t *testing.T) {
		before := proc.Count(OpAuthorize)
		must(t, h.deliver(t, message(t, VoidPayment, VoidPaymentV1{PaymentID: "p3", CheckoutID: "c-p3", Reason: "timeout"})))
		must(t, h.deliver(t, authorizeMsg(t, "p3", "tok_visa")))
		if got := strings.Join(h.events(t, "p3"), ","); got != "PaymentVoided,PaymentRequested,PaymentFailed" {
			t.Fatalf("events %s", got)
		}
		if proc.Count(OpAuthorize) != before {
			t.Fatal("a voided payment was authorized at the processor")
		}
	})

	t.Run("bad messages are dead-lettered at once", func(t *testing.T) {
		err := h.deliver(t, message(t, CapturePayment, CapturePaymentV1{CheckoutID: "c"}))
		if !es.IsPermanent(err) {
			t.Fatalf("err = %v, want permanent", err)
		}
	})
}

func TestPaymentsTransientProcessorFailure(t *testing.T) {
	down := true
	proc := &CardProcessor{Fail: func(Op, string) error {
		if down {
			return errors.New("503")
		}
		return nil
	}}
	_, h := startPayments(t, Config{Processor: proc})
	auth := authorizeMsg(t, "p9", "tok_visa")
	if err := h.deliver(t, auth); err == nil || es.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if evs := h.events(t, "p9"); len(evs) != 0 {
		t.Fatalf("stored %v during the outage", evs)
	}
	down = false
	must(t, h.deliver(t, auth))
	if got := strings.Join(h.events(t, "p9"), ","); got != "PaymentRequested,PaymentAuthorized" {
		t.Fatalf("events %s", got)
	}
}

func TestStripeWebhook(t *testing.T) {
	const secret = "whsec_test"
	m, h := startPayments(t, Config{Processor: NewCardProcessor(), StripeWebhookSecret: secret})
	api := httpapi.New("admin")
	m.Routes(api)
	must(t, h.deliver(t, authorizeMsg(t, "pw", "tok_visa")))

	payload := []byte(`{"id":"evt_1","object":"event","type":"payment_intent.canceled","api_version":"2020-08-27",
		"data":{"object":{"id":"pi_1","object":"payment_intent","metadata":{"payment_id":"pw"}}}}`)
	post := func(body []byte, sig string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/payments/webhooks/stripe", strings.NewReader(string(body)))
		if sig != "" {
			req.Header.Set("Stripe-Signature", sig)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		return w
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret})
	if w := post(payload, ""); w.Code != http.StatusBadRequest {
		t.Fatalf("no signature: %d %s", w.Code, w.Body)
	}
	wrong := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_other"})
	if w := post(payload, wrong.Header); w.Code != http.StatusBadRequest {
		t.Fatalf("wrong secret: %d %s", w.Code, w.Body)
	}
	tampered := append([]byte(nil), payload...)
	tampered[10] = 'X'
	if w := post(tampered, signed.Header); w.Code != http.StatusBadRequest {
		t.Fatalf("tampered body: %d %s", w.Code, w.Body)
	}
	stale := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now().Add(-time.Hour)})
	if w := post(payload, stale.Header); w.Code != http.StatusBadRequest {
		t.Fatalf("replayed old signature: %d %s", w.Code, w.Body)
	}
	future := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now().Add(time.Hour)})
	if w := post(payload, future.Header); w.Code != http.StatusBadRequest {
		t.Fatalf("signature from the future: %d %s", w.Code, w.Body)
	}
	// Signed bodies that are not events: refused for what they are.
	for _, body := range []string{`{"id":"evt_9","object":"event"`, `{}`, `null`, `{"id":"evt_z","type":"payment_intent.succeeded","data":null}`} {
		s := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret})
		w := post(s.Payload, s.Header)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "not a Stripe event") || strings.Contains(w.Body.String(), "Signature") {
			t.Fatalf("signed %s: %d %s", body, w.Code, w.Body)
		}
	}
	w := post(payload, signed.Header)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"applied":true`) {
		t.Fatalf("valid webhook: %d %s", w.Code, w.Body)
	}
	if w := post(payload, signed.Header); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"applied":false`) {
		t.Fatalf("repeated webhook: %d %s", w.Code, w.Body)
	}
	if got := strings.Join(h.events(t, "pw"), ","); got != "PaymentRequested,PaymentAuthorized,PaymentVoided" {
		t.Fatalf("events %s", got)
	}
	other := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Secret: secret,
		Payload: []byte(`{"id":"evt_2","object":"event","type":"customer.created","data":{"object":{"id":"cus_1"}}}`)})
	if w := post(other.Payload, other.Header); w.Code != http.StatusOK {
		t.Fatalf("other event: %d %s", w.Code, w.Body)
	}
	// Without a configured secret every webhook is refused.
	m2, _ := startPayments(t, Config{})
	api2 := httpapi.New("admin")
	m2.Routes(api2)
	req := httptest.NewRequest("POST", "/api/v1/payments/webhooks/stripe", strings.NewReader(string(payload)))
	req.Header.Set("Stripe-Signature", signed.Header)
	w2 := httptest.NewRecorder()
	api2.ServeHTTP(w2, req)
	if w2.Code != http.StatusBadRequest {
		t.Fatalf("unconfigured: %d", w2.Code)
	}
}
