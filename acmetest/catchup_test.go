package acmetest_test

import (
	"fmt"
	"testing"

	"acme/acmetest"
)

// A command that checks another context's events through an asynchronous read
// model sees what the client created just before, without Acme-Min-Position:
// restock a product, add it and a new variant to a cart, apply a promotion
// code, review a product, each right after its creation (the read model may
// lag; the command catches up before it answers "not found"). Several rounds,
// so that a lagging read model is met.
func TestCommandsSeeWhatWasJustCreated(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		_, cust := s.RegisterCustomer(t)
		cat := s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Catch-up"}).Want(t, 201).Str("categoryId")
		usd := func(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }
		for i := range 6 {
			pid := s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": fmt.Sprintf("Lamp %d", i), "description": "A lamp",
				"price": usd(1000), "categoryId": cat, "initialStock": 1}).Want(t, 201).Str("productId")
			s.Do(t, "POST", "/api/v1/inventory/"+pid+"/restock", admin, map[string]any{"quantity": 2}).Want(t, 200)
			s.Do(t, "POST", "/api/v1/cart/items", cust, map[string]any{"productId": pid, "quantity": 3}).Want(t, 200) // 1 + 2 restocked
			s.Do(t, "POST", "/api/v1/products/"+pid+"/reviews", cust, map[string]any{"rating": 4, "title": "Nice", "body": "A good lamp."}).Want(t, 201)

			vpid := s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": fmt.Sprintf("Shade %d", i), "description": "A shade",
				"price": usd(500), "categoryId": cat, "initialStock": 0}).Want(t, 201).Str("productId")
			vid := s.Do(t, "POST", "/api/v1/products/"+vpid+"/variants", admin, map[string]any{"sku": fmt.Sprintf("SHADE-%d-%s", i, vpid[:8]),
				"color": "Red", "priceModifier": usd(0), "initialStock": 0}).Want(t, 201).Str("variantId")
			s.Do(t, "POST", "/api/v1/inventory/"+vpid+"/restock", admin, map[string]any{"quantity": 1, "variantId": vid}).Want(t, 200)
			s.Do(t, "POST", "/api/v1/cart/items", cust, map[string]any{"productId": vpid, "variantId": vid, "quantity": 1}).Want(t, 200)

			code := fmt.Sprintf("CATCH%d%s", i, pid[:4])
			s.Do(t, "POST", "/api/v1/promotions", admin, map[string]any{"code": code, "kind": "percentage", "value": 10}).Want(t, 201)
			s.Do(t, "POST", "/api/v1/cart/promotion-code", cust, map[string]any{"code": code}).Want(t, 200)
		}
	})
}

// An event caused by a command over HTTP carries the request's correlation id
// as both its correlation and its causation, and the caller as its actor.
func TestHTTPCommandMetadata(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		r := s.DoWith(t, "POST", "/api/v1/categories", s.AdminToken, map[string]any{"name": "Metadata"},
			map[string]string{"X-Correlation-Id": "corr-meta-1"}).Want(t, 201)
		ev := s.Do(t, "GET", "/api/v1/admin/streams/category-"+r.Str("categoryId")+"/events", s.AdminToken, nil).Want(t, 200).Items()
		if len(ev) == 0 {
			t.Fatal("the category's stream has no events")
		}
		md, _ := ev[0]["metadata"].(map[string]any)
		if md["correlationId"] != "corr-meta-1" || md["causationId"] != "corr-meta-1" || md["actor"] != "admin" {
			t.Fatalf("metadata %v", md)
		}
	})
}
