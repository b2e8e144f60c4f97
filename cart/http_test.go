package cart_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"acme/acmetest"
)

type money = map[string]any

func usd(n int64) money { return money{"amount": n, "currency": "USD"} }

const unknownID = "0190f0a4-0000-7000-8000-000000000000"

var address = map[string]any{"name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London", "postalCode": "N1 9GU", "country": "GB"}

func checkoutBody(token string) map[string]any {
	return map[string]any{"shippingAddress": address, "paymentMethod": map[string]any{"type": "card", "token": token}}
}

func amount(v any) string {
	m, _ := v.(map[string]any)
	return fmt.Sprintf("%v %v", m["amount"], m["currency"])
}

func line(r *acmetest.Response, productID string) map[string]any {
	for _, it := range r.Map()["items"].([]any) {
		if m := it.(map[string]any); m["productId"] == productID {
			return m
		}
	}
	return nil
}

// catalogFixture creates the products the cart tests use and waits until the
// cart's read models know them all.
type catalogFixture struct {
	a, b, c, d, e, variantM, category string
}

func setup(t *testing.T, s *acmetest.Server, custTok string) catalogFixture {
	admin := s.AdminToken
	var f catalogFixture
	f.category = s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Shirts"}).Want(t, 201).Str("categoryId")
	product := func(name string, price money, stock int) string {
		return s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": name, "description": "d", "price": price,
			"categoryId": f.category, "initialStock": stock}).Want(t, 201).Str("productId")
	}
	f.a = product("Oxford shirt", usd(1999), 5)
	f.b = product("Polo", usd(2000), 0)
	f.variantM = s.Do(t, "POST", "/api/v1/products/"+f.b+"/variants", admin, map[string]any{"sku": "POLO-M-" + f.b[:8], "size": "M",
		"priceModifier": usd(500), "initialStock": 3}).Want(t, 201).Str("variantId")
	f.c = product("Sold out", usd(100), 0)
	f.d = product("Retired", usd(100), 9)
	s.Do(t, "POST", "/api/v1/products/"+f.d+"/deactivate", admin, nil).Want(t, 200)
	f.e = product("Euro shirt", money{"amount": 1000, "currency": "EUR"}, 9)
	// Catalog events reach the cart in order: once the last product is known
	// (its currency refused), every earlier one is.
	s.Eventually(t, func() bool {
		return s.Do(t, "POST", "/api/v1/cart/items", custTok, map[string]any{"productId": f.e, "quantity": 1}).Status == 200
	})
	return f
}

// TestCartHTTP covers every row of the contract's "Cart" section, in both modes.
func TestCartHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		custID, tok := s.RegisterCustomer(t)
		_, other := s.RegisterCustomer(t)

		// GET /api/v1/cart: an empty cart; customers only.
		r := s.Do(t, "GET", "/api/v1/cart", tok, nil).Want(t, 200)
		cartID := r.Str("cartId")
		if len(cartID) != 36 || r.Str("customerId") != custID || fmt.Sprint(r.Map()["items"]) != "[]" ||
			amount(r.Map()["subtotal"]) != "0 USD" || amount(r.Map()["total"]) != "0 USD" || r.Map()["promotionCode"] != nil {
			t.Fatalf("empty cart: %s", r.Body)
		}
		s.Do(t, "GET", "/api/v1/cart", "", nil).WantError(t, 401, "unauthorized")
		s.Do(t, "GET", "/api/v1/cart", admin, nil).WantError(t, 403, "forbidden")

		// Another customer's cart probes the read models (it takes the EUR product).
		_, probe := s.RegisterCustomer(t)
		f := setup(t, s, probe)

		// POST /api/v1/cart/items
		add := func(body map[string]any) *acmetest.Response { return s.Do(t, "POST", "/api/v1/cart/items", tok, body) }
		r = add(map[string]any{"productId": f.a, "quantity": 2}).Want(t, 200)
		if l := line(r, f.a); l == nil || l["quantity"] != 2.0 || amount(l["unitPrice"]) != "1999 USD" || amount(l["lineTotal"]) != "3998 USD" ||
			l["name"] != "Oxford shirt" || l["variantId"] != nil || amount(r.Map()["subtotal"]) != "3998 USD" || r.Str("cartId") != cartID {
			t.Fatalf("after add: %s", r.Body)
		}
		if r.Header.Get("Acme-Position") == "" {
			t.Fatal("no Acme-Position on a command response")
		}
		// 2 in the cart + 4 > 5; the id in upper case names the same product (RFC 9562)
		add(map[string]any{"productId": strings.ToUpper(f.a), "quantity": 4}).WantError(t, 409, "insufficient_stock")
		add(map[string]any{"productId": f.c, "quantity": 1}).WantError(t, 409, "out_of_stock")
		add(map[string]any{"productId": f.b, "quantity": 1}).WantError(t, 422, "variant_required")
		add(map[string]any{"productId": f.b, "variantId": unknownID, "quantity": 1}).WantError(t, 404, "product_not_found")
		add(map[string]any{"productId": f.d, "quantity": 1}).WantError(t, 404, "product_not_found") // inactive
		add(map[string]any{"productId": unknownID, "quantity": 1}).WantError(t, 404, "product_not_found")
		add(map[string]any{"productId": "nope", "quantity": 1}).WantError(t, 404, "product_not_found")
		add(map[string]any{"productId": f.a, "quantity": 0}).WantError(t, 422, "invalid_quantity")
		add(map[string]any{"productId": f.a, "quantity": -3}).WantError(t, 422, "invalid_quantity")
		add(map[string]any{"productId": f.e, "quantity": 1}).WantError(t, 422, "validation_failed") // EUR into a USD cart
		add(map[string]any{"quantity": 1}).WantError(t, 422, "validation_failed")
		add(map[string]any{"productId": f.a}).WantError(t, 422, "validation_failed") // quantity is required
		add(map[string]any{"productId": f.a, "quantity": "two"}).WantError(t, 400, "bad_request")
		add(map[string]any{"productId": f.a, "quantity": 1, "extra": true}).WantError(t, 400, "bad_request")
		s.Do(t, "POST", "/api/v1/cart/items", "", map[string]any{"productId": f.a, "quantity": 1}).WantError(t, 401, "unauthorized")
		r = add(map[string]any{"productId": f.b, "variantId": f.variantM, "quantity": 3}).Want(t, 200)
		if l := line(r, f.b); l == nil || l["variantId"] != f.variantM || amount(l["unitPrice"]) != "2500 USD" || l["name"] != "Polo (M)" ||
			amount(r.Map()["subtotal"]) != "11498 USD" {
			t.Fatalf("variant line: %s", r.Body)
		}
		add(map[string]any{"productId": f.b, "variantId": f.variantM, "quantity": 1}).WantError(t, 409, "insufficient_stock")
		// A product just created is in the cart's read model once its Acme-Position is awaited.
		created := s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": "Fresh", "description": "d", "price": usd(10),
			"categoryId": f.category, "initialStock": 1}).Want(t, 201)
		fresh := created.Str("productId")
		s.DoWith(t, "POST", "/api/v1/cart/items", tok, map[string]any{"productId": fresh, "quantity": 1},
			map[string]string{"Acme-Min-Position": created.Header.Get("Acme-Position")}).Want(t, 200)
		s.Do(t, "DELETE", "/api/v1/cart/items/"+fresh, tok, nil).Want(t, 200)
		s.DoWith(t, "POST", "/api/v1/cart/items", tok, map[string]any{"productId": fresh, "quantity": 1},
			map[string]string{"Acme-Min-Position": "garbage"}).WantError(t, 400, "bad_request")
		s.DoWith(t, "GET", "/api/v1/cart", tok, nil, map[string]string{"Acme-Min-Position": "nosuch:5"}).WantError(t, 400, "bad_request")

		// PUT /api/v1/cart/items/{productId}
		put := func(pid string, body map[string]any) *acmetest.Response {
			return s.Do(t, "PUT", "/api/v1/cart/items/"+pid, tok, body)
		}
		r = put(f.a, map[string]any{"quantity": 5}).Want(t, 200)
		if l := line(r, f.a); l["quantity"] != 5.0 || amount(l["lineTotal"]) != "9995 USD" {
			t.Fatalf("after PUT: %s", r.Body)
		}
		// The same quantity again changes nothing, and still carries a token.
		if same := put(f.a, map[string]any{"quantity": 5}).Want(t, 200); same.Header.Get("Acme-Position") == "" {
			t.Fatal("no Acme-Position on a command that changed nothing")
		}
		put(f.a, map[string]any{"quantity": 6}).WantError(t, 409, "insufficient_stock")
		put(f.a, map[string]any{"quantity": -1}).WantError(t, 422, "invalid_quantity")
		put(f.c, map[string]any{"quantity": 1}).WantError(t, 404, "item_not_in_cart")
		put(f.b, map[string]any{"quantity": 1, "variantId": unknownID}).WantError(t, 404, "item_not_in_cart")
		put(f.a, map[string]any{}).WantError(t, 422, "validation_failed")
		r = put(f.b, map[string]any{"quantity": 2, "variantId": f.variantM}).Want(t, 200)
		if l := line(r, f.b); l["quantity"] != 2.0 {
			t.Fatalf("PUT with variantId: %s", r.Body)
		}
		r = put(f.a, map[string]any{"quantity": 0}).Want(t, 200) // 0 removes
		if line(r, f.a) != nil {
			t.Fatalf("quantity 0 kept the line: %s", r.Body)
		}

		// DELETE /api/v1/cart/items/{productId}?variantId=
		s.Do(t, "DELETE", "/api/v1/cart/items/"+f.a, tok, nil).WantError(t, 404, "item_not_in_cart")
		s.Do(t, "DELETE", "/api/v1/cart/items/"+f.b+"?variantId="+unknownID, tok, nil).WantError(t, 404, "item_not_in_cart")
		r = s.Do(t, "DELETE", "/api/v1/cart/items/"+f.b+"?variantId="+f.variantM, tok, nil).Want(t, 200)
		if fmt.Sprint(r.Map()["items"]) != "[]" || amount(r.Map()["total"]) != "0 USD" {
			t.Fatalf("after DELETE: %s", r.Body)
		}

		// POST /api/v1/cart/promotion-code
		var promoPos string
		promo := func(body map[string]any) string {
			body["kind"] = "percentage"
			if _, isMoney := body["value"].(money); isMoney {
				body["kind"] = "fixed"
			}
			r := s.Do(t, "POST", "/api/v1/promotions", admin, body).Want(t, 201)
			promoPos = r.Header.Get("Acme-Position")
			return r.Str("promotionId")
		}
		past, future := time.Now().Add(-48*time.Hour).UTC(), time.Now().Add(48*time.Hour).UTC()
		promo(map[string]any{"code": "TENOFF", "value": 10})
		promo(map[string]any{"code": "OLD", "value": 10, "endsAt": past.Format(time.RFC3339)})
		promo(map[string]any{"code": "SOON", "value": 10, "startsAt": future.Format(time.RFC3339)})
		promo(map[string]any{"code": "BIGSPEND", "value": 10, "minSubtotal": usd(100000)})
		promo(map[string]any{"code": "POLOONLY", "value": 50, "productIds": []string{f.b}})
		promo(map[string]any{"code": "SHIRTS5", "value": usd(500), "categoryIds": []string{f.category}})
		r = add(map[string]any{"productId": f.a, "quantity": 3}).Want(t, 200) // 3 × 1999 = 5997
		code := func(c string) *acmetest.Response {
			return s.Do(t, "POST", "/api/v1/cart/promotion-code", tok, map[string]any{"code": c})
		}
		// With the promotions' Acme-Position, the cart's read model of promotions
		// catches up before the code is checked.
		s.DoWith(t, "POST", "/api/v1/cart/promotion-code", tok, map[string]any{"code": "shirts5"},
			map[string]string{"Acme-Min-Position": promoPos}).Want(t, 200)
		r = code("tenoff").Want(t, 200)
		// 10 % of 5997 = 599.7, rounded half-up to 600.
		if amount(r.Map()["discount"]) != "600 USD" || amount(r.Map()["total"]) != "5397 USD" || r.Str("promotionCode") != "TENOFF" {
			t.Fatalf("with TENOFF: %s", r.Body)
		}
		for _, c := range []string{"NOSUCHCODE", "OLD", "SOON", "BIGSPEND", "POLOONLY"} {
			code(c).WantError(t, 422, "invalid_promotion_code")
		}
		code("").WantError(t, 422, "invalid_promotion_code")
		if r = s.Do(t, "GET", "/api/v1/cart", tok, nil).Want(t, 200); r.Str("promotionCode") != "TENOFF" || amount(r.Map()["discount"]) != "600 USD" {
			t.Fatalf("a refused code replaced the applied one: %s", r.Body)
		}
		r = code("shirts5").Want(t, 200)
		if amount(r.Map()["discount"]) != "500 USD" || amount(r.Map()["total"]) != "5497 USD" {
			t.Fatalf("with SHIRTS5: %s", r.Body)
		}
		// DELETE /api/v1/cart/promotion-code takes it off; again changes nothing.
		for range 2 {
			r = s.Do(t, "DELETE", "/api/v1/cart/promotion-code", tok, nil).Want(t, 200)
			if _, has := r.Map()["promotionCode"]; has || amount(r.Map()["discount"]) != "0 USD" || amount(r.Map()["total"]) != "5997 USD" {
				t.Fatalf("after removing the code: %s", r.Body)
			}
		}
		if r = s.Do(t, "GET", "/api/v1/cart", tok, nil).Want(t, 200); r.Str("promotionCode") != "" {
			t.Fatalf("the removed code is back: %s", r.Body)
		}
		code("shirts5").Want(t, 200)

		// POST /api/v1/cart/checkout
		co := func(body any) *acmetest.Response { return s.Do(t, "POST", "/api/v1/cart/checkout", tok, body) }
		bad := func(field string, v any) map[string]any {
			a := map[string]any{}
			for k, x := range address {
				a[k] = x
			}
			a[field] = v
			return map[string]any{"shippingAddress": a, "paymentMethod": map[string]any{"type": "card", "token": "tok_visa"}}
		}
		co(bad("country", "XX")).WantError(t, 422, "invalid_address")
		co(bad("country", "GBR")).WantError(t, 422, "invalid_address")
		co(bad("name", "")).WantError(t, 422, "invalid_address")
		co(bad("line1", " ")).WantError(t, 422, "invalid_address")
		co(bad("city", "")).WantError(t, 422, "invalid_address")
		co(bad("postalCode", "")).WantError(t, 422, "invalid_address")
		co(map[string]any{"paymentMethod": map[string]any{"type": "card", "token": "tok_visa"}}).WantError(t, 422, "invalid_address")
		co(map[string]any{"shippingAddress": address, "paymentMethod": map[string]any{"type": "paypal", "token": "x"}}).WantError(t, 422, "validation_failed")
		co(map[string]any{"shippingAddress": address, "paymentMethod": map[string]any{"type": "card", "token": ""}}).WantError(t, 422, "validation_failed")
		co(map[string]any{"shippingAddress": address}).WantError(t, 422, "validation_failed")
		r = co(checkoutBody("tok_visa")).Want(t, 202)
		checkoutID := r.Str("checkoutId")
		if r.Str("status") != "PENDING" || len(checkoutID) != 36 || r.Header.Get("Location") != "/api/v1/checkouts/"+checkoutID {
			t.Fatalf("checkout: %d %v %s", r.Status, r.Header, r.Body)
		}
		r = s.Do(t, "GET", "/api/v1/cart", tok, nil).Want(t, 200)
		if fmt.Sprint(r.Map()["items"]) != "[]" || r.Str("cartId") == cartID || r.Map()["promotionCode"] != nil {
			t.Fatalf("cart after checkout: %s", r.Body)
		}
		co(checkoutBody("tok_visa")).WantError(t, 409, "cart_empty")

		// GET /api/v1/checkouts/{id}: owner only; COMPLETED with the order.
		s.Do(t, "GET", "/api/v1/checkouts/"+checkoutID, other, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/checkouts/"+unknownID, tok, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/checkouts/nope", tok, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/checkouts/"+checkoutID, "", nil).WantError(t, 401, "unauthorized")
		var st *acmetest.Response
		s.Eventually(t, func() bool {
			st = s.Do(t, "GET", "/api/v1/checkouts/"+checkoutID, tok, nil).Want(t, 200)
			return st.Str("status") != "PENDING"
		})
		if st.Str("status") != "COMPLETED" || len(st.Str("orderId")) != 36 || st.Map()["failureReason"] != nil {
			t.Fatalf("checkout outcome: %s", st.Body)
		}
		r = s.Do(t, "GET", "/api/v1/orders/"+st.Str("orderId"), tok, nil).Want(t, 200)
		if amount(r.Map()["totalAmount"]) != "5497 USD" || amount(r.Map()["discount"]) != "500 USD" {
			t.Fatalf("the order does not carry the frozen totals: %s", r.Body)
		}

		// A declined card: FAILED with payment_declined, and the cart restored.
		add(map[string]any{"productId": f.a, "quantity": 1}).Want(t, 200)
		r = co(checkoutBody("tok_chargeDeclined")).Want(t, 202)
		failed := r.Str("checkoutId")
		s.Eventually(t, func() bool {
			st = s.Do(t, "GET", "/api/v1/checkouts/"+failed, tok, nil).Want(t, 200)
			return st.Str("status") != "PENDING"
		})
		if st.Str("status") != "FAILED" || st.Str("failureReason") != "payment_declined" || st.Map()["orderId"] != nil {
			t.Fatalf("declined checkout: %s", st.Body)
		}
		s.Eventually(t, func() bool {
			l := line(s.Do(t, "GET", "/api/v1/cart", tok, nil), f.a)
			return l != nil && l["quantity"] == 1.0
		})
		// The restored cart checks out again.
		r = co(checkoutBody("tok_mastercard")).Want(t, 202)
		retry := r.Str("checkoutId")
		s.Eventually(t, func() bool {
			return s.Do(t, "GET", "/api/v1/checkouts/"+retry, tok, nil).Str("status") == "COMPLETED"
		})
	})
}

// TestCheckoutLineWithoutVariantOfAProductWithVariantsSince: a product gets
// variants after a customer put it in the cart without one. Its stock is kept
// per variant from then on, so the line cannot be reserved: checkout is 422
// variant_required, nothing is checked out, and the cart keeps the line.
func TestCheckoutLineWithoutVariantOfAProductWithVariantsSince(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		cat := s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Morphing"}).Want(t, 201).Str("categoryId")
		p := s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": "Morph", "description": "d", "price": usd(1000),
			"categoryId": cat, "initialStock": 5}).Want(t, 201)
		pid := p.Str("productId")
		_, tok := s.RegisterCustomer(t)
		s.DoWith(t, "POST", "/api/v1/cart/items", tok, map[string]any{"productId": pid, "quantity": 2},
			map[string]string{"Acme-Min-Position": p.Header.Get("Acme-Position")}).Want(t, 200)
		v := s.Do(t, "POST", "/api/v1/products/"+pid+"/variants", admin, map[string]any{"sku": "MORPH-S-" + pid[:8], "size": "S",
			"priceModifier": usd(0), "initialStock": 1}).Want(t, 201)
		s.DoWith(t, "POST", "/api/v1/cart/checkout", tok, checkoutBody("tok_visa"),
			map[string]string{"Acme-Min-Position": v.Header.Get("Acme-Position")}).WantError(t, 422, "variant_required")
		if l := line(s.Do(t, "GET", "/api/v1/cart", tok, nil).Want(t, 200), pid); l == nil || l["quantity"] != float64(2) {
			t.Fatalf("the cart lost its line: %v", l)
		}
	})
}
