package payments

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v85/webhook"

	"acme/httpapi"
)

// FuzzStripeWebhookBody posts arbitrary bodies, correctly signed, to the
// webhook: the decoding never panics or answers 5xx; a 4xx is problem+json.
func FuzzStripeWebhookBody(f *testing.F) {
	const secret = "whsec_fuzz"
	m, h := startPayments(f, Config{StripeWebhookSecret: secret})
	api := httpapi.New("admin")
	m.Routes(api)
	must(f, h.deliver(f, authorizeMsg(f, "pf", "tok_visa")))
	for _, s := range []string{
		`{"id":"evt_1","object":"event","type":"payment_intent.canceled","data":{"object":{"id":"pi_1","metadata":{"payment_id":"pf"}}}}`,
		`{"id":"evt_2","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","metadata":{"payment_id":"pf","order_id":"o"}}}}`,
		`{"id":"evt_3","object":"event","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}`,
		`{"type":"payment_intent.canceled","data":{"object":{"metadata":{"payment_id":""}}}}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret})
		req := httptest.NewRequest("POST", "/api/v1/payments/webhooks/stripe", strings.NewReader(string(body)))
		req.Header.Set("Stripe-Signature", signed.Header)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q → %d %s", body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var p httpapi.Problem
			if json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code == "" {
				t.Fatalf("%q → %d %s", body, w.Code, w.Body)
			}
		}
	})
}
