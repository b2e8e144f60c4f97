package checkout_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"acme/acmetest"
	"acme/app"
	"acme/payments"
)

var address = map[string]any{"name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London", "postalCode": "N1 9GU", "country": "GB"}

func usd(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }

func amountOf(v any) float64 {
	m, _ := v.(map[string]any)
	f, _ := m["amount"].(float64)
	return f
}

// shop is the catalog of one flow test: a product with stock, known to the cart.
type shop struct {
	s       *acmetest.Server
	product string
}

// newShop creates a product with stock units at 1500 USD and waits until the
// cart's read models know it (probe adds one to its cart, then empties it).
func newShop(t *testing.T, s *acmetest.Server, stock int) *shop {
	t.Helper()
	admin := s.AdminToken
	cat := s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Cat " + fmt.Sprint(time.Now().UnixNano())}).Want(t, 201).Str("categoryId")
	p := s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": "Lamp", "description": "A desk lamp",
		"price": usd(1500), "categoryId": cat, "initialStock": stock}).Want(t, 201).Str("productId")
	_, probe := s.RegisterCustomer(t)
	s.Eventually(t, func() bool {
		return s.Do(t, "POST", "/api/v1/cart/items", probe, map[string]any{"productId": p, "quantity": 1}).Status == 200
	})
	s.Do(t, "DELETE", "/api/v1/cart/items/"+p, probe, nil).Want(t, 200)
	return &shop{s: s, product: p}
}

// stock returns the product's stock level.
func (sh *shop) stock(t *testing.T) (onHand, reserved, available float64) {
	t.Helper()
	m := sh.s.Do(t, "GET", "/api/v1/inventory/"+sh.product, "", nil).Want(t, 200).Map()
	return m["onHand"].(float64), m["reserved"].(float64), m["available"].(float64)
}

func (sh *shop) waitStock(t *testing.T, onHand, reserved, available float64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		o, r, a := sh.stock(t)
		if o == onHand && r == reserved && a == available {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stock onHand %v reserved %v available %v, want %v %v %v", o, r, a, onHand, reserved, available)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stockAt reads the product's stock level with Acme-Min-Position: pos, once.
func (sh *shop) stockAt(t *testing.T, pos string, onHand, reserved, available float64) {
	t.Helper()
	m := sh.s.DoWith(t, "GET", "/api/v1/inventory/"+sh.product, "", nil, map[string]string{"Acme-Min-Position": pos}).Want(t, 200).Map()
	if m["onHand"] != onHand || m["reserved"] != reserved || m["available"] != available {
		t.Fatalf("stock at %s: %v; want onHand %v reserved %v available %v", pos, m, onHand, reserved, available)
	}
}

// buy adds qty units to the customer's cart and checks out with card token;
// it returns the checkout id.
func (sh *shop) buy(t *testing.T, tok string, qty int, card string) string {
	t.Helper()
	sh.s.Do(t, "POST", "/api/v1/cart/items", tok, map[string]any{"productId": sh.product, "quantity": qty}).Want(t, 200)
	return sh.checkout(t, tok, card)
}

func (sh *shop) checkout(t *testing.T, tok, card string) string {
	t.Helper()
	r := sh.s.Do(t, "POST", "/api/v1/cart/checkout", tok, map[string]any{"shippingAddress": address,
		"paymentMethod": map[string]any{"type": "card", "token": card}}).Want(t, 202)
	id := r.Str("checkoutId")
	if r.Str("status") != "PENDING" || r.Header.Get("Location") != "/api/v1/checkouts/"+id {
		t.Fatalf("checkout: %s %v", r.Body, r.Header)
	}
	return id
}

// outcome waits until the checkout ends (long polls: ?wait) and returns its view.
func (sh *shop) outcome(t *testing.T, tok, checkoutID string) map[string]any {
	t.Helper()
	var m map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = sh.s.Do(t, "GET", "/api/v1/checkouts/"+checkoutID+"?wait=10", tok, nil).Want(t, 200).Map()
		if m["status"] != "PENDING" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkout %s still PENDING", checkoutID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// saga returns the admin view of one saga.
func saga(t *testing.T, s *acmetest.Server, checkoutID string) map[string]any {
	t.Helper()
	for page := 1; ; page++ {
		r := s.Do(t, "GET", fmt.Sprintf("/api/v1/admin/sagas?pageSize=100&page=%d", page), s.AdminToken, nil).Want(t, 200)
		items := r.Items()
		for _, it := range items {
			if it["checkoutId"] == checkoutID {
				return it
			}
		}
		if len(items) < 100 {
			t.Fatalf("no saga %s", checkoutID)
		}
	}
}

// job waits for the picking job of order with status and returns it.
func job(t *testing.T, s *acmetest.Server, orderID, status string) map[string]any {
	t.Helper()
	var found map[string]any
	s.Eventually(t, func() bool {
		for _, it := range s.Do(t, "GET", "/api/v1/warehouse/picking-jobs?pageSize=100&status="+status, s.AdminToken, nil).Want(t, 200).Items() {
			if it["orderId"] == orderID {
				found = it
				return true
			}
		}
		return false
	})
	return found
}

// TestCheckoutFlow: the whole flow in-process, both modes: happy path, the
// warehouse, shipping and delivery; a declined card; insufficient stock; a
// cancellation after capture.
func TestCheckoutFlow(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		sh := newShop(t, s, 5)
		annID, ann := s.RegisterCustomer(t)
		_, bob := s.RegisterCustomer(t)

		// Happy path: 2 lamps with tok_visa.
		id := sh.buy(t, ann, 2, "tok_visa")
		out := sh.outcome(t, ann, id)
		orderID, _ := out["orderId"].(string)
		if out["status"] != "COMPLETED" || orderID == "" {
			t.Fatalf("checkout: %v", out)
		}
		o := s.Do(t, "GET", "/api/v1/orders/"+orderID, ann, nil).Want(t, 200).Map()
		if o["status"] != "CONFIRMED" || o["customerId"] != annID || amountOf(o["totalAmount"]) != 3000 || amountOf(o["subtotal"]) != 3000 ||
			o["paymentAuthorizationId"] == "" || len(o["lineItems"].([]any)) != 1 {
			t.Fatalf("order: %v", o)
		}
		if line := o["lineItems"].([]any)[0].(map[string]any); line["variantId"] != nil { // a product without variants
			t.Fatalf("order line of a product without variants: %v; want variantId null", line)
		}
		s.Do(t, "GET", "/api/v1/orders/"+orderID, bob, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/checkouts/"+id+"?wait=10", bob, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/checkouts/"+id+"?wait=31", ann, nil).WantError(t, 422, "validation_failed")
		sh.waitStock(t, 5, 2, 3)
		if sg := saga(t, s, id); sg["status"] != "COMPLETED" || sg["orderId"] != orderID || sg["deadline"] != nil {
			t.Fatalf("saga: %v", sg)
		}
		// the customer's order list
		if items := s.Do(t, "GET", "/api/v1/orders", ann, nil).Want(t, 200).Items(); len(items) != 1 || items[0]["orderId"] != orderID {
			t.Fatalf("ann's orders: %v", items)
		}
		if items := s.Do(t, "GET", "/api/v1/orders", bob, nil).Want(t, 200).Items(); len(items) != 0 {
			t.Fatalf("bob's orders: %v", items)
		}

		// Warehouse: a picking job was opened; pick, pack; the order is ready for shipping.
		j := job(t, s, orderID, "OPEN")
		jobID := j["jobId"].(string)
		if ls := j["lineItems"].([]any); len(ls) != 1 || ls[0].(map[string]any)["quantity"] != 2.0 || ls[0].(map[string]any)["variantId"] != nil {
			t.Fatalf("job: %v", j)
		}
		s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/"+jobID+"/pack", admin, nil).WantError(t, 409, "invalid_transition")
		s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/"+jobID+"/pick", ann, nil).WantError(t, 403, "forbidden")
		if r := s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/"+jobID+"/pick", admin, nil).Want(t, 200); r.Str("status") != "PICKED" {
			t.Fatalf("pick: %s", r.Body)
		}
		s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/"+jobID+"/pick", admin, nil).WantError(t, 409, "invalid_transition")
		if r := s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/"+jobID+"/pack", admin, nil).Want(t, 200); r.Str("status") != "PACKED" {
			t.Fatalf("pack: %s", r.Body)
		}
		s.Eventually(t, func() bool {
			return s.Do(t, "GET", "/api/v1/orders/"+orderID, admin, nil).Map()["readyForShipping"] == true
		})

		// Ship (deducts the reserved stock), deliver (tracking number checked).
		s.Do(t, "POST", "/api/v1/orders/"+orderID+"/deliver", admin, map[string]any{"trackingNumber": "1Z"}).WantError(t, 409, "invalid_transition")
		s.Do(t, "POST", "/api/v1/orders/"+orderID+"/ship", ann, map[string]any{"trackingNumber": "1Z", "carrier": "UPS"}).WantError(t, 403, "forbidden")
		r := s.Do(t, "POST", "/api/v1/orders/"+orderID+"/ship", admin, map[string]any{"trackingNumber": "1Z999", "carrier": "UPS"}).Want(t, 200)
		if r.Str("status") != "SHIPPED" || r.Str("trackingNumber") != "1Z999" || r.Str("carrier") != "UPS" {
			t.Fatalf("ship: %s", r.Body)
		}
		// the ship answer's token waits for the deduction it sent to inventory
		sh.stockAt(t, r.Header.Get("Acme-Position"), 3, 0, 3)
		// a packed job stays PACKED when its order ships (a job shipped
		// unpacked is closed as SHIPPED: the warehouse's own tests)
		shippedJobs := s.DoWith(t, "GET", "/api/v1/warehouse/picking-jobs?orderId="+orderID, admin, nil,
			map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}).Want(t, 200).Items()
		if len(shippedJobs) != 1 || shippedJobs[0]["jobId"] != jobID || shippedJobs[0]["status"] != "PACKED" {
			t.Fatalf("the shipped order's job: %v", shippedJobs)
		}
		s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/"+jobID+"/pack", admin, nil).WantError(t, 409, "invalid_transition")
		s.Do(t, "POST", "/api/v1/orders/"+orderID+"/ship", admin, map[string]any{"trackingNumber": "1Z999", "carrier": "UPS"}).WantError(t, 409, "invalid_transition")
		s.Do(t, "POST", "/api/v1/orders/"+orderID+"/cancel", ann, map[string]any{"reason": "too late"}).WantError(t, 409, "invalid_transition")
		s.Do(t, "POST", "/api/v1/orders/"+orderID+"/deliver", admin, map[string]any{"trackingNumber": "WRONG"}).WantError(t, 422, "tracking_mismatch")
		if r := s.Do(t, "POST", "/api/v1/orders/"+orderID+"/deliver", admin, map[string]any{"trackingNumber": "1Z999"}).Want(t, 200); r.Str("status") != "DELIVERED" {
			t.Fatalf("deliver: %s", r.Body)
		}
		hist := s.Do(t, "GET", "/api/v1/orders/"+orderID+"/history", ann, nil).Want(t, 200).Items()
		if len(hist) < 5 || hist[0]["type"] != "OrderCreated" || hist[0]["status"] != "PENDING" || hist[len(hist)-1]["status"] != "DELIVERED" {
			t.Fatalf("history: %v", hist)
		}
		if v := s.Do(t, "GET", "/api/v1/orders/"+orderID+"?version=1", ann, nil).Want(t, 200).Map(); v["status"] != "PENDING" || v["version"] != 1.0 {
			t.Fatalf("version 1: %v", v)
		}

		// Declined card: no stock held, the cart is restored.
		id = sh.buy(t, bob, 1, "tok_chargeDeclined")
		if out := sh.outcome(t, bob, id); out["status"] != "FAILED" || out["failureReason"] != "payment_declined" {
			t.Fatalf("declined: %v", out)
		}
		sh.waitStock(t, 3, 0, 3)
		s.Eventually(t, func() bool { return len(s.Do(t, "GET", "/api/v1/cart", bob, nil).Items()) == 1 })
		if sg := saga(t, s, id); sg["status"] != "FAILED" || sg["failureReason"] != "payment_declined" {
			t.Fatalf("saga: %v", sg)
		}

		// Insufficient stock: both carts hold 2 of the 3 left; the second checkout fails.
		_, cy := s.RegisterCustomer(t)
		s.Do(t, "POST", "/api/v1/cart/items", cy, map[string]any{"productId": sh.product, "quantity": 2}).Want(t, 200)
		first := sh.checkout(t, bob, "tok_mastercard") // bob's restored cart: 1 lamp
		firstOut := sh.outcome(t, bob, first)
		if firstOut["status"] != "COMPLETED" {
			t.Fatalf("bob's retry: %v", firstOut)
		}
		s.Do(t, "POST", "/api/v1/cart/items", bob, map[string]any{"productId": sh.product, "quantity": 2}).Want(t, 200)
		second := sh.checkout(t, bob, "tok_visa")
		third := sh.checkout(t, cy, "tok_visa")
		a, b := sh.outcome(t, bob, second), sh.outcome(t, cy, third)
		if (a["status"] == "COMPLETED") == (b["status"] == "COMPLETED") {
			t.Fatalf("2 units left, two checkouts of 2: %v %v", a, b)
		}
		loser := b
		if a["status"] != "COMPLETED" {
			loser = a
		}
		if loser["status"] != "FAILED" || loser["failureReason"] != "insufficient_stock" {
			t.Fatalf("loser: %v", loser)
		}
		sh.waitStock(t, 3, 3, 0)

		// Cancel after capture: stock released, payment refunded, picking job cancelled.
		winner, winnerTok := a, bob
		if a["status"] != "COMPLETED" {
			winner, winnerTok = b, cy
		}
		cancelled := winner["orderId"].(string)
		job(t, s, cancelled, "OPEN")
		s.Do(t, "POST", "/api/v1/orders/"+cancelled+"/cancel", ann, map[string]any{"reason": "x"}).WantError(t, 404, "not_found")
		r = s.Do(t, "POST", "/api/v1/orders/"+cancelled+"/cancel", winnerTok, map[string]any{"reason": "changed my mind"}).Want(t, 200)
		if r.Str("status") != "CANCELLED" {
			t.Fatalf("cancel: %s", r.Body)
		}
		s.Do(t, "POST", "/api/v1/orders/"+cancelled+"/cancel", winnerTok, map[string]any{"reason": "again"}).WantError(t, 409, "invalid_transition")
		sh.stockAt(t, r.Header.Get("Acme-Position"), 3, 1, 2)
		jobs := s.DoWith(t, "GET", "/api/v1/warehouse/picking-jobs?status=Cancelled&orderId="+cancelled, admin, nil,
			map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}).Want(t, 200)
		if items := jobs.Items(); len(items) != 1 || items[0]["orderId"] != cancelled || jobs.Map()["total"] != 1.0 {
			t.Fatalf("the cancelled order's job: %s", jobs.Body)
		}
		s.Do(t, "GET", "/api/v1/warehouse/picking-jobs?orderId=nope", admin, nil).WantError(t, 422, "validation_failed")
		for _, it := range s.Do(t, "GET", "/api/v1/warehouse/picking-jobs?pageSize=100", admin, nil).Want(t, 200).Items() {
			if it["orderId"] == cancelled {
				t.Fatalf("a cancelled job in the default list: %v", it)
			}
		}
		for _, status := range []string{"CANCELLED", "cancelled"} { // a status filter ignores case
			if items := s.Do(t, "GET", "/api/v1/orders?status="+status, admin, nil).Want(t, 200).Items(); len(items) != 1 || items[0]["orderId"] != cancelled {
				t.Fatalf("cancelled orders (?status=%s): %v", status, items)
			}
		}

		// Shipped without the warehouse's steps: the open job is closed
		// (SHIPPED), leaves the pickers' list and refuses pick.
		unpacked := firstOut["orderId"].(string)
		unpackedJob := job(t, s, unpacked, "OPEN")["jobId"].(string)
		r = s.Do(t, "POST", "/api/v1/orders/"+unpacked+"/ship", admin, map[string]any{"trackingNumber": "1Z2", "carrier": "DHL"}).Want(t, 200)
		sh.stockAt(t, r.Header.Get("Acme-Position"), 2, 0, 2)
		closed := s.DoWith(t, "GET", "/api/v1/warehouse/picking-jobs?orderId="+unpacked, admin, nil,
			map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}).Want(t, 200).Items()
		if len(closed) != 1 || closed[0]["jobId"] != unpackedJob || closed[0]["status"] != "SHIPPED" {
			t.Fatalf("the job of an order shipped unpacked: %v", closed)
		}
		if open := s.Do(t, "GET", "/api/v1/warehouse/picking-jobs?status=OPEN&orderId="+unpacked, admin, nil).Want(t, 200).Items(); len(open) != 0 {
			t.Fatalf("still on the pickers' list: %v", open)
		}
		s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/"+unpackedJob+"/pick", admin, nil).WantError(t, 409, "invalid_transition")
	})
}

// buyThreeOfFour: a new customer checks out 3 units of a new product with
// 4 in stock, with tok_visa; the checkout's outcome and its saga.
func buyThreeOfFour(t *testing.T, s *acmetest.Server) (sh *shop, id string, out, sg map[string]any) {
	t.Helper()
	sh = newShop(t, s, 4)
	_, tok := s.RegisterCustomer(t)
	id = sh.buy(t, tok, 3, "tok_visa")
	return sh, id, sh.outcome(t, tok, id), saga(t, s, id)
}

// TestCheckoutStepTimeout: with a step deadline shorter than any reply, a step
// times out, the checkout fails, and whatever the late replies did is undone:
// no stock stays held, no order is confirmed.
func TestCheckoutStepTimeout(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		sh, id, out, sg := buyThreeOfFour(t, s)
		// Which step times out depends on how fast the replies are; the
		// reason follows the step (the saga tables cover each step).
		want := "payment_error"
		if sg["step"] == "RESERVE_INVENTORY" {
			want = "insufficient_stock"
		}
		if out["status"] != "FAILED" || out["failureReason"] != want || sg["status"] != "FAILED" || sg["failureReason"] != want {
			t.Fatalf("checkout: %v; saga %v", out, sg)
		}
		t.Logf("timed out at %v", sg["step"])
		sh.waitStock(t, 4, 0, 4)
		if items := s.Do(t, "GET", "/api/v1/orders?status=CONFIRMED", s.AdminToken, nil).Want(t, 200).Items(); len(items) != 0 {
			t.Fatalf("confirmed orders after a timeout: %v", items)
		}
		evs := s.Do(t, "GET", "/api/v1/admin/streams/checkout-"+id+"/events", s.AdminToken, nil).Want(t, 200).Items()
		timedOut := false
		for _, e := range evs {
			timedOut = timedOut || e["type"] == "StepTimedOut"
		}
		if !timedOut {
			t.Fatalf("no StepTimedOut in %v", evs)
		}
	}, acmetest.WithConfig(func(c *app.Config) { c.SagaStepTimeout = time.Microsecond }))
}

// TestCheckoutSlowCaptureTimesOut: the built-in card processor slowed with
// Config.CardLatency (--card-latency capture=3s) answers the capture after
// the step's deadline: the checkout fails at CAPTURE_PAYMENT with
// payment_error, the order is cancelled and the stock released, and no money
// is kept: the late capture is refused (voided first) or refunded.
func TestCheckoutSlowCaptureTimesOut(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		sh, id, out, sg := buyThreeOfFour(t, s)
		if out["status"] != "FAILED" || out["failureReason"] != "payment_error" || sg["step"] != "CAPTURE_PAYMENT" {
			t.Fatalf("checkout: %v; saga %v", out, sg)
		}
		orderID, _ := sg["orderId"].(string)
		if orderID == "" {
			t.Fatalf("no order in the saga: %v", sg)
		}
		s.Eventually(t, func() bool {
			return s.Do(t, "GET", "/api/v1/orders/"+orderID, s.AdminToken, nil).Want(t, 200).Str("status") == "CANCELLED"
		})
		sh.waitStock(t, 4, 0, 4)
		if items := s.Do(t, "GET", "/api/v1/orders?status=CONFIRMED", s.AdminToken, nil).Want(t, 200).Items(); len(items) != 0 {
			t.Fatalf("confirmed orders after a timed-out capture: %v", items)
		}
		// The capture still reaches the processor after the deadline. Either
		// the void got there first and the capture is refused, or the capture
		// went through and the cancelled order refunds it: no money is kept.
		var paymentID string
		for _, e := range s.Do(t, "GET", "/api/v1/admin/streams/checkout-"+id+"/events", s.AdminToken, nil).Want(t, 200).Items() {
			if d, _ := e["data"].(map[string]any); d["paymentId"] != nil {
				paymentID, _ = d["paymentId"].(string)
			}
		}
		var types []any
		s.Eventually(t, func() bool {
			seen := map[any]bool{}
			types = types[:0]
			for _, e := range s.Do(t, "GET", "/api/v1/admin/streams/payment-"+paymentID+"/events", s.AdminToken, nil).Want(t, 200).Items() {
				seen[e["type"]] = true
				types = append(types, e["type"])
			}
			return seen["PaymentRefunded"] || seen["PaymentVoided"] && seen["PaymentFailed"] && !seen["PaymentSucceeded"]
		})
		t.Logf("payment %s: %v", paymentID, types)
	}, acmetest.WithConfig(func(c *app.Config) {
		c.SagaStepTimeout = time.Second
		c.CardLatency = "capture=3s"
	}))
}

// TestReservationExpiresUnderTheCheckout: a reservation TTL shorter than the
// authorization takes (--reservation-ttl 1s, --card-latency authorize=4s):
// inventory releases the stock (EXPIRED) while the saga waits, and the saga
// fails insufficient_stock rather than sell units it no longer holds; the
// authorization, once it comes, is voided, no order exists, the cart is back.
func TestReservationExpiresUnderTheCheckout(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		sh := newShop(t, s, 4)
		_, tok := s.RegisterCustomer(t)
		id := sh.buy(t, tok, 3, "tok_visa")
		out := sh.outcome(t, tok, id)
		sg := saga(t, s, id)
		if out["status"] != "FAILED" || out["failureReason"] != "insufficient_stock" || out["orderId"] != nil || sg["step"] != "AUTHORIZE_PAYMENT" {
			t.Fatalf("checkout: %v; saga %v", out, sg)
		}
		sh.waitStock(t, 4, 0, 4)
		s.Eventually(t, func() bool { return len(s.Do(t, "GET", "/api/v1/cart", tok, nil).Items()) == 1 })
		var paymentID string
		var reasons []any
		for _, e := range s.Do(t, "GET", "/api/v1/admin/streams/checkout-"+id+"/events", s.AdminToken, nil).Want(t, 200).Items() {
			d, _ := e["data"].(map[string]any)
			if id, ok := d["paymentId"].(string); ok && id != "" {
				paymentID = id
			}
			if e["type"] == "StepFailed" {
				reasons = append(reasons, d["reason"])
			}
		}
		if len(reasons) != 1 || reasons[0] != "reservation_expired" || paymentID == "" {
			t.Fatalf("step failures %v, payment %q", reasons, paymentID)
		}
		// the authorization answers after the expiry: it is voided, never captured
		s.Eventually(t, func() bool {
			seen := map[any]bool{}
			r := s.Do(t, "GET", "/api/v1/admin/streams/payment-"+paymentID+"/events", s.AdminToken, nil)
			if r.Status == 404 {
				return false // the processor has not answered yet
			}
			for _, e := range r.Want(t, 200).Items() {
				seen[e["type"]] = true
			}
			return seen["PaymentVoided"] && !seen["PaymentSucceeded"]
		})
		if items := s.Do(t, "GET", "/api/v1/orders", s.AdminToken, nil).Want(t, 200).Items(); len(items) != 0 {
			t.Fatalf("orders: %v", items)
		}
	}, acmetest.WithConfig(func(c *app.Config) {
		c.ReservationTTL = time.Second
		c.CardLatency = "authorize=4s" // the sweeper (every second) expires the hold well before
	}))
}

// TestOversell: 40 customers race for 10 units: exactly 10 orders, 30
// insufficient_stock, available 0.
func TestOversell(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		sh := newShop(t, s, 10)
		const n = 40
		toks := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, toks[i] = s.RegisterCustomer(t)
				s.Do(t, "POST", "/api/v1/cart/items", toks[i], map[string]any{"productId": sh.product, "quantity": 1}).Want(t, 200)
			})
		}
		wg.Wait()
		ids := make([]string, n)
		for i := range n {
			wg.Go(func() { ids[i] = sh.checkout(t, toks[i], "tok_visa") })
		}
		wg.Wait()
		completed, failed := 0, 0
		orders := map[string]bool{}
		for i := range n {
			out := sh.outcome(t, toks[i], ids[i])
			switch {
			case out["status"] == "COMPLETED":
				completed++
				orders[out["orderId"].(string)] = true
			case out["failureReason"] == "insufficient_stock":
				failed++
			default:
				t.Errorf("checkout %d: %v", i, out)
			}
		}
		if completed != 10 || failed != 30 || len(orders) != 10 {
			t.Fatalf("completed %d (%d orders), insufficient_stock %d; want 10, 30", completed, len(orders), failed)
		}
		sh.waitStock(t, 10, 10, 0)
		if total := s.Do(t, "GET", "/api/v1/orders?status=CONFIRMED", s.AdminToken, nil).Want(t, 200).Map()["total"]; total != 10.0 {
			t.Fatalf("confirmed orders: %v", total)
		}
	})
}

// TestCancelBeforeConfirmation: an order cancelled while its payment is being
// captured (PENDING) ends the checkout COMPLETED with that order at once (not
// at the step deadline), leaves the cart empty, releases the stock and takes
// no money (the capture is voided or refunded).
func TestCancelBeforeConfirmation(t *testing.T) {
	var proc *payments.CardProcessor
	var release chan struct{}
	holdCaptures := func(c *app.Config) { // a processor per program
		held := make(chan struct{})
		proc, release = payments.NewCardProcessor(), held
		proc.Fail = func(op payments.Op, _ string) error {
			if op == payments.OpCapture {
				select { // the order stays PENDING until the test has cancelled it
				case <-held:
				case <-time.After(20 * time.Second):
				}
			}
			return nil
		}
		c.PaymentProcessor = proc
	}
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		sh := newShop(t, s, 5)
		customerID, tok := s.RegisterCustomer(t)
		id := sh.buy(t, tok, 2, "tok_visa")
		var orderID string
		s.Eventually(t, func() bool {
			for _, o := range s.Do(t, "GET", "/api/v1/orders?status=PENDING&customerId="+customerID, s.AdminToken, nil).Want(t, 200).Items() {
				orderID, _ = o["orderId"].(string)
			}
			return orderID != ""
		})
		if r := s.Do(t, "POST", "/api/v1/orders/"+orderID+"/cancel", tok, map[string]any{"reason": "changed my mind"}).Want(t, 200); r.Str("status") != "CANCELLED" {
			t.Fatalf("cancel: %s", r.Body)
		}
		close(release)
		if out := sh.outcome(t, tok, id); out["status"] != "COMPLETED" || out["orderId"] != orderID {
			t.Fatalf("checkout after its order was cancelled: %v; want COMPLETED with order %s", out, orderID)
		}
		sh.waitStock(t, 5, 0, 5)
		s.Eventually(t, func() bool {
			captured := proc.Count(payments.OpCapture)
			return captured == proc.Count(payments.OpRefund) && captured+proc.Count(payments.OpVoid) == 1
		})
		if items := s.Do(t, "GET", "/api/v1/cart", tok, nil).Want(t, 200).Items(); len(items) != 0 {
			t.Fatalf("the cart was refilled with a cancelled order's items: %v", items)
		}
		if o := s.Do(t, "GET", "/api/v1/orders/"+orderID, tok, nil).Want(t, 200).Map(); o["status"] != "CANCELLED" {
			t.Fatalf("order: %v", o)
		}
	}, acmetest.WithConfig(holdCaptures))
}

// TestSagaListHonoursMinPosition: the saga of a checkout is started from the
// bus; the list read with the checkout's Acme-Position already shows it.
func TestSagaListHonoursMinPosition(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		sh := newShop(t, s, 100)
		for i := range 5 {
			_, tok := s.RegisterCustomer(t)
			s.Do(t, "POST", "/api/v1/cart/items", tok, map[string]any{"productId": sh.product, "quantity": 1}).Want(t, 200)
			r := s.Do(t, "POST", "/api/v1/cart/checkout", tok, map[string]any{"shippingAddress": address,
				"paymentMethod": map[string]any{"type": "card", "token": "tok_visa"}}).Want(t, 202)
			id := r.Str("checkoutId")
			found := false
			for _, it := range s.DoWith(t, "GET", "/api/v1/admin/sagas?pageSize=100", s.AdminToken, nil,
				map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}).Want(t, 200).Items() {
				found = found || it["checkoutId"] == id
			}
			if !found {
				t.Fatalf("round %d: the saga of checkout %s is not listed with its position", i, id)
			}
		}
	})
}

// TestReleasedStockHonoursMinPosition: a cancellation releases the order's
// stock through two hops (ordering sends ReleaseInventory, inventory appends
// InventoryReleased, search and the cart read that). With the cancel's
// Acme-Min-Position, search shows the product in stock again and another
// customer may add it to their cart; rounds run side by side, as under load.
func TestReleasedStockHonoursMinPosition(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				sh := newShop(t, s, 1)
				cat := s.Do(t, "GET", "/api/v1/products/"+sh.product, "", nil).Want(t, 200).Str("categoryId")
				_, ann := s.RegisterCustomer(t)
				_, bob := s.RegisterCustomer(t)
				out := sh.outcome(t, ann, sh.buy(t, ann, 1, "tok_visa"))
				if out["status"] != "COMPLETED" {
					t.Errorf("round %d: checkout %v", i, out)
					return
				}
				r := s.Do(t, "POST", "/api/v1/orders/"+out["orderId"].(string)+"/cancel", ann, map[string]any{"reason": "changed my mind"}).Want(t, 200)
				at := map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}
				items := s.DoWith(t, "GET", "/api/v1/products?categoryId="+cat, "", nil, at).Want(t, 200).Items()
				if len(items) != 1 || items[0]["inStock"] != true {
					t.Errorf("round %d: search after the cancel shows %v", i, items)
				}
				if add := s.DoWith(t, "POST", "/api/v1/cart/items", bob, map[string]any{"productId": sh.product, "quantity": 1}, at); add.Status != 200 {
					t.Errorf("round %d: adding the released unit: %d %s", i, add.Status, add.Body)
				}
			})
		}
		wg.Wait()
	})
}
