package cart

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"acme/httpapi"
)

type fuzzAuth struct{}

func (fuzzAuth) Authenticate(_ context.Context, tok string) (string, bool, error) {
	return cust, tok == "customer", nil
}

// fuzzRoute posts arbitrary bytes as a customer to a cart route: decoding must
// never panic or answer 5xx, and every 4xx is problem+json with a code.
func fuzzRoute(f *testing.F, method, path string, seeds ...string) {
	m, h, _ := startCart(f)
	h.deliver(f, "ProductCreated", map[string]any{"productId": pA, "name": "Shirt", "price": usdMap(1000), "categoryId": "cat", "initialStock": 1000000})
	h.deliver(f, "ProductCreated", map[string]any{"productId": pB, "name": "Polo", "price": usdMap(2000), "categoryId": "cat", "initialStock": 0})
	h.deliver(f, "ProductVariantAdded", map[string]any{"productId": pB, "variantId": vM, "size": "M", "priceModifier": usdMap(0), "initialStock": 5})
	h.deliver(f, "PromotionCreated", map[string]any{"promotionId": "p", "code": "TEN", "kind": "percentage", "percent": 10})
	api := httpapi.New("fuzz-admin")
	api.Auth = fuzzAuth{}
	m.Routes(api)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// Keep a line in the cart so PUT, promotion codes and checkout get past "empty".
		if _, _, err := m.AddItem(context.Background(), cust, pA, "", 1); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer customer")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q → %d %s", method, path, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var p httpapi.Problem
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code == "" || p.Status != w.Code {
				t.Fatalf("%q → %d %s: not a problem with a code", body, w.Code, w.Body)
			}
		}
	})
}

func FuzzAddItemBody(f *testing.F) {
	fuzzRoute(f, "POST", "/api/v1/cart/items", `{"productId":"`+pA+`","quantity":1}`, `{"productId":"`+pB+`","variantId":"`+vM+`","quantity":2}`,
		`{"productId":"`+pA+`","quantity":-1}`, `{"productId":"x"}`, `{"quantity":9223372036854775807,"productId":"`+pA+`"}`)
}

func FuzzUpdateItemBody(f *testing.F) {
	fuzzRoute(f, "PUT", "/api/v1/cart/items/"+pA, `{"quantity":3}`, `{"quantity":0}`, `{"quantity":2,"variantId":""}`, `{"quantity":-9223372036854775808}`)
}

func FuzzPromotionCodeBody(f *testing.F) {
	fuzzRoute(f, "POST", "/api/v1/cart/promotion-code", `{"code":"ten"}`, `{"code":""}`, `{"code":"NOPE"}`)
}

func FuzzCheckoutBody(f *testing.F) {
	fuzzRoute(f, "POST", "/api/v1/cart/checkout",
		`{"shippingAddress":{"name":"A","line1":"L","city":"C","postalCode":"P","country":"GB"},"paymentMethod":{"type":"card","token":"tok_visa"}}`,
		`{"shippingAddress":{"name":"A","line1":"L","line2":"","city":"C","postalCode":"P","country":"zz"},"paymentMethod":{"type":"card","token":""}}`,
		`{"shippingAddress":null,"paymentMethod":{}}`, `{}`)
}
