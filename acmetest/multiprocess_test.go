package acmetest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"acme/acmetest"
	"acme/testenv"
)

// TestTwoProcessesServeOneShop: two processes of one deployment (the same
// PostgreSQL, NATS and Redis) serve one shop, each request going to either.
// A product created on one is sold on the other; eight customers race for
// five units with their requests spread over both: exactly five orders, the
// rest insufficient_stock, and both processes agree on stock and orders.
func TestTwoProcessesServeOneShop(t *testing.T) {
	if !testenv.ServerMode(t) {
		t.Skip("needs PostgreSQL, NATS and Redis (see the log above)")
	}
	a := acmetest.Start(t, acmetest.ServerMode)
	b := a.Join(t)
	procs := []*acmetest.Server{a, b}
	admin := a.AdminToken
	usd := func(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }
	address := map[string]any{"name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London", "postalCode": "N1 9GU", "country": "GB"}

	cat := a.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Two processes"}).Want(t, 201).Str("categoryId")
	pid := b.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": "Lamp", "description": "A lamp",
		"price": usd(1500), "categoryId": cat, "initialStock": 5}).Want(t, 201).Str("productId")

	type customer struct{ id, token string }
	customers := make([]customer, 8)
	for i := range customers {
		// registered on one process, signed in and shopping on the other
		on, other := procs[i%2], procs[(i+1)%2]
		email := fmt.Sprintf("two-%d-%s@example.com", i, pid[:8])
		id := on.Do(t, "POST", "/api/v1/customers", "", map[string]string{"email": email, "password": acmetest.Password, "name": "Two"}).Want(t, 201).Str("customerId")
		tok := other.Do(t, "POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": acmetest.Password}).Want(t, 201).Str("token")
		customers[i] = customer{id, tok}
		other.Do(t, "POST", "/api/v1/cart/items", tok, map[string]any{"productId": pid, "quantity": 1}).Want(t, 200)
	}

	outcomes := make([]map[string]any, len(customers))
	var wg sync.WaitGroup
	for i, c := range customers {
		wg.Go(func() {
			id := procs[i%2].Do(t, "POST", "/api/v1/cart/checkout", c.token, map[string]any{"shippingAddress": address,
				"paymentMethod": map[string]any{"type": "card", "token": "tok_visa"}}).Want(t, 202).Str("checkoutId")
			acmetest.Eventually(t, 30*time.Second, func() bool {
				m := procs[(i+1)%2].Do(t, "GET", "/api/v1/checkouts/"+id+"?wait=5", c.token, nil).Want(t, 200).Map()
				outcomes[i] = m
				return m["status"] != "PENDING"
			})
		})
	}
	wg.Wait()
	completed := 0
	var orders []string
	for i, m := range outcomes {
		switch {
		case m["status"] == "COMPLETED":
			completed++
			orders = append(orders, m["orderId"].(string))
		case m["status"] == "FAILED" && m["failureReason"] == "insufficient_stock":
		default:
			t.Errorf("customer %d: checkout %v", i, m)
		}
	}
	if completed != 5 {
		t.Fatalf("%d checkouts completed, want 5: %v", completed, outcomes)
	}
	for _, p := range procs {
		a.Eventually(t, func() bool {
			m := p.Do(t, "GET", "/api/v1/inventory/"+pid, "", nil).Want(t, 200).Map()
			return m["onHand"] == 5.0 && m["reserved"] == 5.0 && m["available"] == 0.0
		})
		a.Eventually(t, func() bool {
			return len(p.Do(t, "GET", "/api/v1/orders?status=CONFIRMED&pageSize=100", admin, nil).Want(t, 200).Items()) == 5
		})
	}

	// Cancelled on one process, the stock comes back on the other.
	b.Do(t, "POST", "/api/v1/orders/"+orders[0]+"/cancel", admin, map[string]any{"reason": "changed mind"}).Want(t, 200)
	a.Eventually(t, func() bool {
		return a.Do(t, "GET", "/api/v1/inventory/"+pid, "", nil).Want(t, 200).Map()["available"] == 1.0
	})
	if got := a.Do(t, "GET", "/api/v1/orders/"+orders[0], admin, nil).Want(t, 200).Str("status"); got != "CANCELLED" {
		t.Fatalf("the order cancelled on the other process is %s on this one", got)
	}
}
