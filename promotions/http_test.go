package promotions_test

import (
	"fmt"
	"sync"
	"testing"

	"acme/acmetest"
)

// TestPromotionsHTTP covers every row of the contract's "Promotions" section, in both modes.
func TestPromotionsHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		_, cust := s.RegisterCustomer(t)
		const id = "0190f0a4-0000-7000-8000-000000000000"

		r := s.Do(t, "POST", "/api/v1/promotions", admin, map[string]any{"code": "Save10", "kind": "percentage", "value": 10}).Want(t, 201)
		p := r.Map()
		if len(r.Str("promotionId")) != 36 || p["code"] != "Save10" || p["kind"] != "percentage" || p["value"] != 10.0 ||
			fmt.Sprint(p["productIds"]) != "[]" || fmt.Sprint(p["categoryIds"]) != "[]" || p["createdAt"] == nil || p["minSubtotal"] != nil {
			t.Fatalf("created: %s", r.Body)
		}
		if r.Header.Get("Acme-Position") == "" {
			t.Fatal("no Acme-Position")
		}
		r = s.Do(t, "POST", "/api/v1/promotions", admin, map[string]any{"code": "FIVE", "kind": "fixed",
			"value": map[string]any{"amount": 500, "currency": "USD"}, "minSubtotal": map[string]any{"amount": 2000, "currency": "USD"},
			"productIds": []string{id}, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z"}).Want(t, 201)
		p = r.Map()
		if fmt.Sprint(p["value"]) != "map[amount:500 currency:USD]" || fmt.Sprint(p["minSubtotal"]) != "map[amount:2000 currency:USD]" ||
			fmt.Sprint(p["productIds"]) != "["+id+"]" || p["startsAt"] != "2026-01-01T00:00:00Z" || p["endsAt"] != "2027-01-01T00:00:00Z" {
			t.Fatalf("fixed: %s", r.Body)
		}
		// the Location of a created promotion answers it (admin only)
		loc := r.Header.Get("Location")
		if loc != "/api/v1/promotions/"+r.Str("promotionId") {
			t.Fatalf("Location %q", loc)
		}
		if g := s.Do(t, "GET", loc, admin, nil).Want(t, 200); g.Str("code") != "FIVE" || fmt.Sprint(g.Map()["value"]) != "map[amount:500 currency:USD]" {
			t.Fatalf("GET %s: %s", loc, g.Body)
		}
		s.Do(t, "GET", loc, cust, nil).WantError(t, 403, "forbidden")
		s.Do(t, "GET", "/api/v1/promotions/"+id, admin, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/promotions/FIVE", admin, nil).WantError(t, 404, "not_found")

		s.Do(t, "POST", "/api/v1/promotions", admin, map[string]any{"code": "SAVE10", "kind": "fixed",
			"value": map[string]any{"amount": 1, "currency": "USD"}}).WantError(t, 409, "promotion_code_taken")
		s.Do(t, "POST", "/api/v1/promotions", admin, map[string]any{"code": "save10", "kind": "percentage", "value": 5}).WantError(t, 409, "promotion_code_taken")
		for _, body := range []map[string]any{
			{"kind": "percentage", "value": 10},
			{"code": "A", "kind": "bogo", "value": 10},
			{"code": "A", "kind": "percentage", "value": 0},
			{"code": "A", "kind": "percentage", "value": 101},
			{"code": "A", "kind": "percentage"},
			{"code": "A", "kind": "fixed", "value": 5},
			{"code": "A", "kind": "fixed", "value": map[string]any{"amount": 5, "currency": "XYZ"}},
			{"code": "A", "kind": "percentage", "value": 5, "productIds": []string{"nope"}},
			{"code": "A", "kind": "percentage", "value": 5, "startsAt": "soon"},
			{"code": "A", "kind": "percentage", "value": 5, "startsAt": "2026-02-01T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"},
		} {
			s.Do(t, "POST", "/api/v1/promotions", admin, body).WantError(t, 422, "validation_failed")
		}
		s.Do(t, "POST", "/api/v1/promotions", admin, `{"code": "A", "kind": "percentage", "value": 5, "bogus": 1}`).WantError(t, 400, "bad_request")
		s.Do(t, "POST", "/api/v1/promotions", admin, `{"code": 5}`).WantError(t, 400, "bad_request")
		for _, value := range []string{`"10"`, `true`, `[10]`} { // wrong types, whatever the kind
			s.Do(t, "POST", "/api/v1/promotions", admin, `{"code": "W1", "kind": "percentage", "value": `+value+`}`).WantError(t, 400, "bad_request")
			s.Do(t, "POST", "/api/v1/promotions", admin, `{"code": "W2", "kind": "fixed", "value": `+value+`}`).WantError(t, 400, "bad_request")
		}
		// money inside value is held to the body's rules
		s.Do(t, "POST", "/api/v1/promotions", admin, `{"code": "F1", "kind": "fixed", "value": {"amount": "5", "currency": "USD"}}`).WantError(t, 400, "bad_request")
		s.Do(t, "POST", "/api/v1/promotions", admin, `{"code": "F2", "kind": "fixed", "value": {"amount": 5, "currency": "USD", "x": 1}}`).WantError(t, 400, "bad_request")
		s.Do(t, "POST", "/api/v1/promotions", admin, `{"code": "F3", "kind": "fixed", "value": {"AMOUNT": 5, "currency": "USD"}}`).WantError(t, 400, "bad_request")
		s.Do(t, "POST", "/api/v1/promotions", admin, `{"CODE": "F4", "kind": "fixed", "value": {"amount": 5, "currency": "USD"}}`).WantError(t, 400, "bad_request")
		s.Do(t, "POST", "/api/v1/promotions", cust, map[string]any{"code": "C", "kind": "percentage", "value": 5}).WantError(t, 403, "forbidden")
		s.Do(t, "POST", "/api/v1/promotions", "", map[string]any{"code": "C", "kind": "percentage", "value": 5}).WantError(t, 401, "unauthorized")

		// Race-free uniqueness: of 8 concurrent creations of one code, one wins.
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = s.Do(t, "POST", "/api/v1/promotions", admin, map[string]any{"code": fmt.Sprintf("race%s", map[bool]string{true: "X", false: "x"}[i%2 == 0]),
					"kind": "percentage", "value": i + 1}).Status
			})
		}
		wg.Wait()
		won := 0
		for _, st := range statuses {
			switch st {
			case 201:
				won++
			case 409:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if won != 1 {
			t.Fatalf("%d creations of one code won: %v", won, statuses)
		}

		// GET /api/v1/promotions (admin)
		r = s.Do(t, "GET", "/api/v1/promotions", admin, nil).Want(t, 200)
		if items := r.Items(); len(items) != 3 || r.Map()["total"] != 3.0 || r.Map()["page"] != 1.0 || r.Map()["pageSize"] != 20.0 ||
			items[0]["code"] != "Save10" || items[1]["code"] != "FIVE" {
			t.Fatalf("list: %s", r.Body)
		}
		r = s.Do(t, "GET", "/api/v1/promotions?page=2&pageSize=2", admin, nil).Want(t, 200)
		if items := r.Items(); len(items) != 1 || r.Map()["total"] != 3.0 {
			t.Fatalf("page 2: %s", r.Body)
		}
		s.Do(t, "GET", "/api/v1/promotions?pageSize=0", admin, nil).WantError(t, 422, "validation_failed")
		s.Do(t, "GET", "/api/v1/promotions", cust, nil).WantError(t, 403, "forbidden")
		s.Do(t, "GET", "/api/v1/promotions", "", nil).WantError(t, 401, "unauthorized")
	})
}
