package payments

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"acme"
	"acme/es"
	"acme/httpapi"
)

// WebhookResponse acknowledges a Stripe event.
type WebhookResponse struct {
	Received bool   `json:"received"`
	Applied  bool   `json:"applied"` // the event changed a payment (false: nothing to do, or already known)
	Type     string `json:"type"`
}

// Routes registers the payments HTTP routes.
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("POST /api/v1/payments/webhooks/stripe", httpapi.Anonymous, m.stripeWebhook,
		httpapi.Summary("Stripe webhook endpoint; requires a valid Stripe-Signature (400 otherwise). "+
			"payment_intent.succeeded / payment_intent.canceled confirm a capture / void of a payment "+
			"(by metadata payment_id) at most once; other events are acknowledged and ignored."),
		httpapi.Returns(http.StatusOK, WebhookResponse{}))
}

func (m *Module) stripeWebhook(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, httpapi.MaxBody))
	if err != nil {
		return acme.Errorf(acme.CodePayloadTooLarge, "the body is larger than %d bytes", httpapi.MaxBody)
	}
	if m.cfg.StripeWebhookSecret == "" {
		return acme.Errorf(acme.CodeBadRequest, "Stripe webhooks are not configured")
	}
	// The signature first, then the body: a signed body that is not an event
	// says so, not that the signature is wrong.
	if err := webhook.ValidatePayload(body, r.Header.Get("Stripe-Signature"), m.cfg.StripeWebhookSecret); err != nil {
		return acme.Errorf(acme.CodeBadRequest, "invalid Stripe-Signature: %v", err)
	}
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), m.cfg.StripeWebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil || ev.ID == "" || ev.Type == "" {
		return acme.Errorf(acme.CodeBadRequest, "the signed body is not a Stripe event (a JSON object with \"object\": \"event\", an id and a type)")
	}
	// stripe-go refuses a signature older than its tolerance but not one from
	// the future, which only a holder of the secret (or a skewed clock) makes.
	if t, ok := signatureTime(r.Header.Get("Stripe-Signature")); !ok || t.After(m.cfg.Clock.Now().Add(webhook.DefaultTolerance)) {
		return acme.Errorf(acme.CodeBadRequest, "invalid Stripe-Signature: timestamp in the future")
	}
	resp := WebhookResponse{Received: true, Type: string(ev.Type)}
	var op Op
	switch ev.Type {
	case "payment_intent.succeeded":
		op = OpCapture
	case "payment_intent.canceled":
		op = OpVoid
	}
	var obj struct {
		ID       string            `json:"id"`
		Metadata map[string]string `json:"metadata"`
	}
	if ev.Data != nil {
		_ = jsonUnmarshal(ev.Data.Raw, &obj)
	}
	paymentID := obj.Metadata["payment_id"]
	if op == OpNone || paymentID == "" {
		return httpapi.JSON(w, http.StatusOK, resp)
	}
	c := Command{Op: op, PaymentID: paymentID, OrderID: obj.Metadata["order_id"], Reason: "stripe " + string(ev.Type),
		At: m.cfg.Clock.Now(), Result: &Result{Op: op, Status: Approved, ID: obj.ID}}
	// A webhook confirms what Stripe did; it is applied only when the payment is in
	// the state that operation leaves (otherwise it is known already, or early).
	cur, err := m.agg.Load(r.Context(), StreamID(paymentID), es.StreamQuery{})
	if err != nil {
		return err
	}
	if Plan(cur.State, c) != op {
		return httpapi.JSON(w, http.StatusOK, resp)
	}
	app, err := m.execute(r.Context(), c)
	if err != nil {
		return err
	}
	if len(app.Events) > 0 {
		res, err := m.h.Store().Commit(r.Context(), es.Commit{Appends: []es.Append{app}})
		if err != nil {
			return err
		}
		resp.Applied = true
		httpapi.SetPosition(w, "payments", res.Position)
	}
	return httpapi.JSON(w, http.StatusOK, resp)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// signatureTime returns the t= timestamp of a Stripe-Signature header.
func signatureTime(header string) (time.Time, bool) {
	for _, kv := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "t="); ok {
			sec, err := strconv.ParseInt(v, 10, 64)
			return time.Unix(sec, 0), err == nil
		}
	}
	return time.Time{}, false
}
