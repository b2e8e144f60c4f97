package inventory_test

import (
	"testing"

	"acme/acmetest"
)

func usd(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }

type level struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
	OnHand    int64  `json:"onHand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
}

// TestInventoryHTTP covers every row of the contract's "Inventory" section,
// success and each failure code, in both modes.
func TestInventoryHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		_, cust := s.RegisterCustomer(t)
		unknown := "0190f0a4-0000-7000-8000-000000000000"

		cat := s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Tools"}).Want(t, 201).Str("categoryId")
		r := s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": "Hammer", "description": "Claw hammer",
			"price": usd(1999), "categoryId": cat, "initialStock": 5}).Want(t, 201)
		pid := r.Str("productId")

		// GET waits for the catalog consumer with Acme-Min-Position.
		var l level
		s.DoWith(t, "GET", "/api/v1/inventory/"+pid, "", nil, map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}).Want(t, 200).Decode(t, &l)
		if l != (level{ProductID: pid, OnHand: 5, Available: 5}) {
			t.Fatalf("initial level %+v", l)
		}
		s.Do(t, "GET", "/api/v1/inventory/"+unknown, "", nil).WantError(t, 404, "product_not_found")
		s.Do(t, "GET", "/api/v1/inventory/"+pid+"?variantId="+unknown, "", nil).WantError(t, 404, "product_not_found") // as restock answers

		// POST restock (admin).
		restock := func(token, product string, body any) *acmetest.Response {
			return s.Do(t, "POST", "/api/v1/inventory/"+product+"/restock", token, body)
		}
		r = restock(admin, pid, map[string]any{"quantity": 3}).Want(t, 200)
		r.Decode(t, &l)
		if l != (level{ProductID: pid, OnHand: 8, Available: 8}) || r.Header.Get("Acme-Position") == "" {
			t.Fatalf("restocked level %+v, position %q", l, r.Header.Get("Acme-Position"))
		}
		s.Do(t, "GET", "/api/v1/inventory/"+pid, "", nil).Want(t, 200).Decode(t, &l)
		if l.OnHand != 8 || l.Available != 8 {
			t.Fatalf("level after restock %+v", l)
		}
		restock(admin, pid, map[string]any{"quantity": 0}).WantError(t, 422, "invalid_quantity")
		restock(admin, pid, map[string]any{"quantity": -4}).WantError(t, 422, "invalid_quantity")
		restock(admin, pid, map[string]any{}).WantError(t, 422, "invalid_quantity")
		restock(admin, unknown, map[string]any{"quantity": 1}).WantError(t, 404, "product_not_found")
		restock(admin, pid, `{"quantity": "lots"}`).WantError(t, 400, "bad_request")
		restock(admin, pid, `{"quantity": 1, "colour": "red"}`).WantError(t, 400, "bad_request")
		restock(admin, pid, `{`).WantError(t, 400, "bad_request")
		restock("", pid, map[string]any{"quantity": 1}).WantError(t, 401, "unauthorized")
		restock(cust, pid, map[string]any{"quantity": 1}).WantError(t, 403, "forbidden")

		// Variants: stock per variant; a restock must name one.
		r = s.Do(t, "POST", "/api/v1/products/"+pid+"/variants", admin, map[string]any{"sku": "HAM-XL", "size": "XL",
			"priceModifier": usd(0), "initialStock": 2}).Want(t, 201)
		vid := r.Str("variantId")
		s.DoWith(t, "GET", "/api/v1/inventory/"+pid+"?variantId="+vid, "", nil, map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}).
			Want(t, 200).Decode(t, &l)
		if l != (level{ProductID: pid, VariantID: vid, OnHand: 2, Available: 2}) {
			t.Fatalf("variant level %+v", l)
		}
		restock(admin, pid, map[string]any{"quantity": 1}).WantError(t, 422, "variant_required")
		restock(admin, pid, map[string]any{"quantity": 1, "variantId": unknown}).WantError(t, 404, "product_not_found")
		restock(admin, pid, map[string]any{"quantity": 4, "variantId": vid}).Want(t, 200).Decode(t, &l)
		if l != (level{ProductID: pid, VariantID: vid, OnHand: 6, Available: 6}) {
			t.Fatalf("variant restock %+v", l)
		}
		// Without variantId: the sum over the product's variants (the 8 units
		// the product held before its first variant can no longer be sold).
		total := s.Do(t, "GET", "/api/v1/inventory/"+pid, "", nil).Want(t, 200)
		if m := total.Map(); m["onHand"] != 6.0 || m["available"] != 6.0 || m["variantId"] != nil {
			t.Fatalf("product total %s; want 6 and variantId null", total.Body)
		}

		// A deactivated product cannot be restocked.
		r = s.Do(t, "POST", "/api/v1/products/"+pid+"/deactivate", admin, nil).Want(t, 200)
		s.DoWith(t, "GET", "/api/v1/inventory/"+pid, "", nil, map[string]string{"Acme-Min-Position": r.Header.Get("Acme-Position")}).Want(t, 200)
		restock(admin, pid, map[string]any{"quantity": 1, "variantId": vid}).WantError(t, 404, "product_not_found")

		// The stream is visible to the admin API (events carry levels).
		r = s.Do(t, "GET", "/api/v1/admin/streams/stock-"+pid+"/events", admin, nil).Want(t, 200)
		if items := r.Items(); len(items) != 2 || items[0]["type"] != "InventoryRestocked" {
			t.Fatalf("stock stream: %s", r.Body)
		}
	})
}
