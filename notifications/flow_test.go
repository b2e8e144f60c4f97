package notifications_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"acme"
	"acme/acmetest"
	"acme/app"
)

// slackHook records the payloads posted to it.
type slackHook struct {
	mu   sync.Mutex
	keys map[string]int // Idempotency-Key → posts
}

func (h *slackHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var p map[string]string
	if json.Unmarshal(b, &p) != nil || p["text"] == "" {
		http.Error(w, "bad payload", 400)
		return
	}
	h.mu.Lock()
	h.keys[r.Header.Get("Idempotency-Key")]++
	h.mu.Unlock()
}

func (h *slackHook) posts() (n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.keys {
		n += c
	}
	return n
}

// TestOrderLifecycleNotifications buys the last unit of a product, ships and
// delivers the order, and checks every notification is sent once, the out of
// stock alert reaches ops by email and Slack, and the buyer's review is a
// verified purchase.
func TestOrderLifecycleNotifications(t *testing.T) {
	hook := &slackHook{keys: map[string]int{}}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		before := hook.posts()
		cat := s.Do(t, "POST", "/api/v1/categories", s.AdminToken, map[string]any{"name": "Clocks " + acme.NewID()}).Want(t, http.StatusCreated)
		p := s.Do(t, "POST", "/api/v1/products", s.AdminToken, map[string]any{
			"name": "Wall clock", "description": "Ticks quietly", "price": map[string]any{"amount": 4500, "currency": "EUR"},
			"categoryId": cat.Str("categoryId"), "initialStock": 1,
		}).Want(t, http.StatusCreated)
		product := p.Str("productId")
		customer, token := s.RegisterCustomer(t)

		var add *acmetest.Response
		s.Eventually(t, func() bool {
			add = s.Do(t, "POST", "/api/v1/cart/items", token, map[string]any{"productId": product, "quantity": 1})
			return add.Status == http.StatusOK
		})
		co := s.Do(t, "POST", "/api/v1/cart/checkout", token, map[string]any{
			"shippingAddress": map[string]any{"name": "Ada", "line1": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE"},
			"paymentMethod":   map[string]any{"type": "card", "token": "tok_visa"},
		}).Want(t, http.StatusAccepted)
		var checkout map[string]any
		s.Eventually(t, func() bool {
			checkout = s.Do(t, "GET", "/api/v1/checkouts/"+co.Str("checkoutId"), token, nil).Map()
			return checkout["status"] != "PENDING"
		})
		if checkout["status"] != "COMPLETED" {
			t.Fatalf("checkout = %v", checkout)
		}
		order := checkout["orderId"].(string)
		s.Do(t, "POST", "/api/v1/orders/"+order+"/ship", s.AdminToken, map[string]any{"trackingNumber": "TRK-1", "carrier": "DHL"}).Want(t, http.StatusOK)
		delivered := s.Do(t, "POST", "/api/v1/orders/"+order+"/deliver", s.AdminToken, map[string]any{"trackingNumber": "TRK-1"}).Want(t, http.StatusOK)

		kinds := []string{"customer_registered", "order_placed", "order_confirmed", "order_shipped", "order_delivered"}
		count := func(kind string) int {
			return len(s.Do(t, "GET", "/api/v1/notifications?customerId="+customer+"&kind="+kind, s.AdminToken, nil).Want(t, http.StatusOK).Items())
		}
		for _, k := range kinds {
			s.Eventually(t, func() bool { return count(k) == 1 })
		}
		alerts := func() []map[string]any {
			return s.Do(t, "GET", "/api/v1/notifications?kind=out_of_stock&pageSize=100", s.AdminToken, nil).Items()
		}
		s.Eventually(t, func() bool { return len(alerts()) >= 2 })
		channels := map[string]bool{}
		for _, a := range alerts() {
			channels[a["channel"].(string)] = true
		}
		if !channels["email"] || !channels["slack"] {
			t.Fatalf("out of stock alerts went to %v; want email and slack", channels)
		}
		if hook.posts() <= before {
			t.Fatal("the Slack webhook received nothing")
		}

		// A restart redelivers nothing that sends twice.
		s.Restart(t)
		s.RegisterCustomer(t)
		s.Eventually(t, func() bool {
			return len(s.Do(t, "GET", "/api/v1/notifications?kind=customer_registered", s.AdminToken, nil).Items()) >= 2
		})
		for _, k := range kinds {
			if n := count(k); n != 1 {
				t.Errorf("%s sent %d times; want once", k, n)
			}
		}
		hook.mu.Lock()
		for key, n := range hook.keys {
			if n != 1 {
				t.Errorf("Slack notification %s posted %d times", key, n)
			}
		}
		hook.mu.Unlock()

		// The buyer's review is a verified purchase; another customer's is not.
		rev := s.DoWith(t, "POST", "/api/v1/products/"+product+"/reviews", token,
			map[string]any{"rating": 5, "title": "On time", "body": "Keeps time well."},
			map[string]string{"Acme-Min-Position": delivered.Header.Get("Acme-Position")})
		if rev.Status != http.StatusCreated || rev.Map()["verifiedPurchase"] != true {
			t.Fatalf("buyer's review = %d %s; want 201 with verifiedPurchase true", rev.Status, rev.Body)
		}
		_, other := s.RegisterCustomer(t)
		r := s.Do(t, "POST", "/api/v1/products/"+product+"/reviews", other, map[string]any{"rating": 3, "title": "Looks ok", "body": "Saw it at a friend's."}).Want(t, http.StatusCreated)
		if r.Map()["verifiedPurchase"] != false {
			t.Fatalf("a non-buyer's review = %s; want verifiedPurchase false", r.Body)
		}
	}, acmetest.WithConfig(func(c *app.Config) { c.SlackWebhookURL = srv.URL }))
}
