package acmetest_test

import (
	"fmt"
	"sync"
	"testing"

	"acme/acmetest"
)

// TestFoundation exercises the HTTP foundation through the real program and
// its stores: sessions, Idempotency-Key on a real command (also concurrent
// duplicates, in both modes), correlation ids.
func TestFoundation(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		id, tok := s.RegisterCustomer(t)
		r := s.Do(t, "GET", "/api/v1/customers/"+id, tok, nil).Want(t, 200)
		if r.Str("customerId") != id {
			t.Fatalf("customer %s: %s", id, r.Body)
		}
		s.Do(t, "GET", "/api/v1/customers/"+id, "", nil).WantError(t, 401, "unauthorized")

		// the correlation id and the actor of a request reach its events
		email := "corr-" + id[:8] + "@example.com"
		r = s.DoWith(t, "POST", "/api/v1/customers", "", map[string]string{"email": email, "password": acmetest.Password, "name": "Corr"},
			map[string]string{"X-Correlation-Id": "corr-" + id}).Want(t, 201)
		ev := s.Do(t, "GET", "/api/v1/admin/streams/customer-"+r.Str("customerId")+"/events", s.AdminToken, nil).Want(t, 200)
		items := ev.Items()
		if len(items) == 0 {
			t.Fatalf("no events: %s", ev.Body)
		}
		md, _ := items[0]["metadata"].(map[string]any)
		if md["correlationId"] != "corr-"+id || md["actor"] != "anonymous" {
			t.Fatalf("event metadata %v, want correlationId corr-%s and actor anonymous", md, id)
		}

		body := map[string]string{"email": "idem-" + id[:8] + "@example.com", "password": acmetest.Password, "name": "Idem"}
		key := map[string]string{"Idempotency-Key": "register-" + id}
		first := s.DoWith(t, "POST", "/api/v1/customers", "", body, key).Want(t, 201)
		again := s.DoWith(t, "POST", "/api/v1/customers", "", body, key).Want(t, 201)
		if string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" ||
			first.Header.Get("Acme-Position") != again.Header.Get("Acme-Position") {
			t.Fatalf("replay differs:\n%s %v\n%s %v", first.Body, first.Header, again.Body, again.Header)
		}
		body["name"] = "Other"
		s.DoWith(t, "POST", "/api/v1/customers", "", body, key).WantError(t, 422, "idempotency_key_reused")
		// without the key the same registration is a second attempt: the email is taken
		body["name"] = "Idem"
		s.Do(t, "POST", "/api/v1/customers", "", body).WantError(t, 409, "email_taken")

		// concurrent duplicates: one registration, the same answer for all
		body2 := map[string]string{"email": "conc-" + id[:8] + "@example.com", "password": acmetest.Password, "name": "Conc"}
		var wg sync.WaitGroup
		results := make([]*acmetest.Response, 6)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.DoWith(t, "POST", "/api/v1/customers", "", body2, map[string]string{"Idempotency-Key": "conc-" + id})
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.Status != 201 || string(r.Body) != string(results[0].Body) {
				t.Fatalf("duplicate %d: %d %s (first: %s)", i, r.Status, r.Body, results[0].Body)
			}
		}
		r = s.DoWith(t, "GET", "/api/v1/customers/"+id, tok, nil, map[string]string{"X-Correlation-Id": fmt.Sprintf("corr-%s", id)})
		if r.Header.Get("X-Correlation-Id") != "corr-"+id {
			t.Fatalf("correlation id not echoed: %v", r.Header)
		}
	})
}
