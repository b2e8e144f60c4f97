package customers_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"acme/acmetest"
)

// TestCustomersHTTP covers every row of the contract's "Customers and sessions"
// section, success and each failure code, in both modes.
func TestCustomersHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		const pw = "Harbour-Lights-2049"
		reg := func(email, password, name string) *acmetest.Response {
			return s.Do(t, "POST", "/api/v1/customers", "", map[string]string{"email": email, "password": password, "name": name})
		}

		// POST /api/v1/customers → 201
		r := reg("Dora.Explorer@Example.com", pw, "Dora Explorer").Want(t, http.StatusCreated)
		id := r.Str("customerId")
		if r.Str("email") != "Dora.Explorer@Example.com" || r.Str("name") != "Dora Explorer" || r.Str("status") != "REGISTERED" || len(id) != 36 {
			t.Fatalf("registration body: %s", r.Body)
		}
		if at, err := time.Parse(time.RFC3339, r.Str("registeredAt")); err != nil || time.Since(at) > time.Minute || at.Location() != time.UTC {
			t.Fatalf("registeredAt %q: %v", r.Str("registeredAt"), err)
		}
		if r.Header.Get("Acme-Position") == "" {
			t.Fatal("no Acme-Position on a 2xx command response")
		}
		// 409 email_taken, case-insensitive, Unicode-normalised (NFC), an
		// internationalised domain the same as its ASCII form
		reg("dora.explorer@example.COM", pw, "Other").WantError(t, 409, "email_taken")
		reg("Jos\u00e9@ex\u00e4mple.com", pw, "José").Want(t, http.StatusCreated)
		reg("jose\u0301@ex\u00e4mple.com", pw, "José").WantError(t, 409, "email_taken")
		reg("JOS\u00c9@xn--exmple-cua.com", pw, "José").WantError(t, 409, "email_taken")
		s.Do(t, "POST", "/api/v1/sessions", "", map[string]string{"email": "jose\u0301@XN--EXMPLE-CUA.COM", "password": pw}).Want(t, http.StatusCreated)
		// 422 weak_password
		for _, weak := range []string{"Short1", "abcdefghijk", "12345678901", "password123", "QWERTY12345", ""} {
			reg("weak@example.com", weak, "Weak").WantError(t, 422, "weak_password")
		}
		// 422 validation_failed: email syntax, name 1–100
		for _, bad := range []struct{ email, name, field string }{
			{"not-an-email", "N", "email"},
			{"Dora <d@example.com>", "N", "email"},
			{"d@example.com", "", "name"},
			{"d@example.com", strings.Repeat("n", 101), "name"},
			{"d@example.com", "\u200b", "name"}, // a zero-width space shows nothing
		} {
			r := reg(bad.email, pw, bad.name).WantError(t, 422, "validation_failed")
			if !strings.Contains(string(r.Body), `"field":"`+bad.field+`"`) {
				t.Fatalf("no field error for %s: %s", bad.field, r.Body)
			}
		}
		// Malformed bodies → 400.
		s.Do(t, "POST", "/api/v1/customers", "", `{"email":`).WantError(t, 400, "bad_request")
		s.Do(t, "POST", "/api/v1/customers", "", `{"email":"a@b.c","password":"x","name":"n","admin":true}`).WantError(t, 400, "bad_request")

		// POST /api/v1/sessions → 201 {token, customerId, expiresAt}
		r = s.Do(t, "POST", "/api/v1/sessions", "", map[string]string{"email": "DORA.explorer@example.com", "password": pw}).Want(t, http.StatusCreated)
		tok := r.Str("token")
		exp, err := time.Parse(time.RFC3339, r.Str("expiresAt"))
		if tok == "" || r.Str("customerId") != id || err != nil || exp.Before(time.Now().Add(time.Hour)) {
			t.Fatalf("session body: %s", r.Body)
		}
		// 401 invalid_credentials: the same answer for a wrong password and an unknown email.
		wrong := s.Do(t, "POST", "/api/v1/sessions", "", map[string]string{"email": "dora.explorer@example.com", "password": pw + "x"}).WantError(t, 401, "invalid_credentials")
		unknown := s.Do(t, "POST", "/api/v1/sessions", "", map[string]string{"email": "nobody@example.com", "password": pw}).WantError(t, 401, "invalid_credentials")
		if string(wrong.Body) != string(unknown.Body) {
			t.Fatalf("different answers:\n%s\n%s", wrong.Body, unknown.Body)
		}

		// GET /api/v1/customers/{id}: self → 200, admin → 200, another customer → 404, anonymous → 401.
		r = s.Do(t, "GET", "/api/v1/customers/"+id, tok, nil).Want(t, 200)
		if r.Str("customerId") != id || r.Str("email") != "Dora.Explorer@Example.com" || r.Str("status") != "REGISTERED" || r.Str("registeredAt") == "" || r.Str("name") != "Dora Explorer" {
			t.Fatalf("profile: %s", r.Body)
		}
		if _, ok := r.Map()["password"]; ok {
			t.Fatal("profile shows a password")
		}
		s.Do(t, "GET", "/api/v1/customers/"+id, s.AdminToken, nil).Want(t, 200)
		otherID, otherTok := s.RegisterCustomer(t)
		s.Do(t, "GET", "/api/v1/customers/"+id, otherTok, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/customers/"+otherID, otherTok, nil).Want(t, 200)
		s.Do(t, "GET", "/api/v1/customers/"+id, "", nil).WantError(t, 401, "unauthorized")
		s.Do(t, "GET", "/api/v1/customers/0190f0a4-0000-7000-8000-000000000000", s.AdminToken, nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/customers/not-a-uuid", s.AdminToken, nil).WantError(t, 404, "not_found")

		// DELETE /api/v1/sessions/current → 204; then the token is dead; without a token → 401.
		s.Do(t, "DELETE", "/api/v1/sessions/current", "", nil).WantError(t, 401, "unauthorized")
		s.Do(t, "DELETE", "/api/v1/sessions/current", tok, nil).Want(t, http.StatusNoContent)
		s.Do(t, "DELETE", "/api/v1/sessions/current", tok, nil).WantError(t, 401, "unauthorized")
		s.Do(t, "GET", "/api/v1/customers/"+id, tok, nil).WantError(t, 401, "unauthorized")
		s.Do(t, "GET", "/api/v1/customers/"+otherID, otherTok, nil).Want(t, 200) // other sessions live on
		s.Do(t, "DELETE", "/api/v1/sessions/current", s.AdminToken, nil).WantError(t, 403, "forbidden")
		// a client still sending the dead token may sign in again (a public route needs no token)
		s.Do(t, "POST", "/api/v1/sessions", tok, map[string]any{"email": "dora.explorer@example.com", "password": pw}).Want(t, 201)
	})
}

// TestConcurrentRegistrationsHTTP: 20 concurrent registrations of one address
// give exactly one 201 and nineteen 409 email_taken.
func TestConcurrentRegistrationsHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		const n = 20
		var mu sync.Mutex
		statuses := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				email := "same@example.com"
				if i%2 == 0 {
					email = "SAME@Example.com"
				}
				r := s.Do(t, "POST", "/api/v1/customers", "", map[string]string{"email": email, "password": "Harbour-Lights-2049", "name": "Same"})
				mu.Lock()
				statuses[http.StatusText(r.Status)+" "+r.Code()]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if statuses["Created "] != 1 || statuses["Conflict email_taken"] != n-1 {
			t.Fatalf("outcomes = %v, want exactly one Created and %d email_taken", statuses, n-1)
		}
	})
}

// TestVerifyEmailHTTP: the verification link of the welcome email
// (GET /verify-email?token=) and its API form make the customer ACTIVE, in
// both modes.
func TestVerifyEmailHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		id, tok := s.RegisterCustomer(t)
		otherID, otherTok := s.RegisterCustomer(t)
		events := s.Do(t, "GET", "/api/v1/admin/streams/customer-"+id+"/events", s.AdminToken, nil).Want(t, 200).Items()
		data, _ := events[0]["data"].(map[string]any)
		token, _ := data["verificationToken"].(string)
		if token == "" {
			t.Fatalf("no verification token in %v", events[0])
		}

		r := s.Do(t, "POST", "/api/v1/customers/verify-email", "", map[string]string{"token": token}).Want(t, 200)
		if r.Str("customerId") != id || r.Str("status") != "ACTIVE" || r.Header.Get("Acme-Position") == "" {
			t.Fatalf("verify: %s (%v)", r.Body, r.Header)
		}
		// The link itself, followed again: the same answer, nothing new stored.
		r = s.Do(t, "GET", "/verify-email?token="+url.QueryEscape(token), "", nil).Want(t, 200)
		if r.Str("customerId") != id || r.Str("status") != "ACTIVE" {
			t.Fatalf("link: %s", r.Body)
		}
		if got := s.Do(t, "GET", "/api/v1/customers/"+id, tok, nil).Want(t, 200).Str("status"); got != "ACTIVE" {
			t.Fatalf("profile status %q after verification", got)
		}
		if got := s.Do(t, "GET", "/api/v1/customers/"+otherID, otherTok, nil).Want(t, 200).Str("status"); got != "REGISTERED" {
			t.Fatalf("the other customer's status %q", got)
		}
		if n := len(s.Do(t, "GET", "/api/v1/admin/streams/customer-"+id+"/events", s.AdminToken, nil).Want(t, 200).Items()); n != 2 {
			t.Fatalf("%d events in the customer's stream, want 2 (registered, verified once)", n)
		}

		s.Do(t, "GET", "/verify-email?token=nope", "", nil).WantError(t, 404, "not_found")
		s.Do(t, "POST", "/api/v1/customers/verify-email", "", map[string]string{"token": "nope"}).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/verify-email", "", nil).WantError(t, 422, "validation_failed")
		s.Do(t, "POST", "/api/v1/customers/verify-email", "", map[string]string{}).WantError(t, 422, "validation_failed")
		s.Do(t, "POST", "/api/v1/customers/verify-email", "", `{"token":`).WantError(t, 400, "bad_request")

		// A new link: the customer themself or an admin; it replaces the first.
		s.Do(t, "POST", "/api/v1/customers/"+id+"/verification-email", tok, nil).WantError(t, 409, "already_verified")
		s.Do(t, "POST", "/api/v1/customers/"+otherID+"/verification-email", tok, nil).WantError(t, 404, "not_found")
		s.Do(t, "POST", "/api/v1/customers/"+otherID+"/verification-email", "", nil).WantError(t, 401, "unauthorized")
		otherFirst := s.Do(t, "GET", "/api/v1/admin/streams/customer-"+otherID+"/events", s.AdminToken, nil).Want(t, 200).Items()[0]["data"].(map[string]any)["verificationToken"].(string)
		r = s.Do(t, "POST", "/api/v1/customers/"+otherID+"/verification-email", otherTok, nil).Want(t, 202)
		if r.Str("customerId") != otherID || r.Str("status") != "REGISTERED" {
			t.Fatalf("new link: %s", r.Body)
		}
		s.Do(t, "POST", "/api/v1/customers/"+otherID+"/verification-email", s.AdminToken, nil).Want(t, 202)
		evs := s.Do(t, "GET", "/api/v1/admin/streams/customer-"+otherID+"/events", s.AdminToken, nil).Want(t, 200).Items()
		if len(evs) != 3 || evs[2]["type"] != "VerificationEmailRequested" {
			t.Fatalf("events: %v", evs)
		}
		latest := evs[2]["data"].(map[string]any)["verificationToken"].(string)
		// the notification is sent, with the new link's kind
		s.Eventually(t, func() bool {
			return len(s.Do(t, "GET", "/api/v1/notifications?kind=email_verification&customerId="+otherID, s.AdminToken, nil).Want(t, 200).Items()) == 2
		})
		s.Do(t, "GET", "/verify-email?token="+url.QueryEscape(otherFirst), "", nil).WantError(t, 404, "not_found")
		if r := s.Do(t, "GET", "/verify-email?token="+url.QueryEscape(latest), "", nil).Want(t, 200); r.Str("status") != "ACTIVE" {
			t.Fatalf("the newest link: %s", r.Body)
		}
	})
}

// TestCustomersDocumented: every customers route is in the OpenAPI document and
// every customers message in the message catalog.
func TestCustomersDocumented(t *testing.T) {
	s := acmetest.Start(t, acmetest.Embedded)
	r := s.Do(t, "GET", "/api/v1/openapi.json", "", nil).Want(t, 200)
	paths, _ := r.Map()["paths"].(map[string]any)
	for path, method := range map[string]string{
		"/api/v1/customers": "post", "/api/v1/customers/{id}": "get",
		"/api/v1/sessions": "post", "/api/v1/sessions/current": "delete",
		"/api/v1/customers/verify-email": "post", "/verify-email": "get",
	} {
		if ops, _ := paths[path].(map[string]any); ops[method] == nil {
			t.Errorf("OpenAPI lacks %s %s", method, path)
		}
	}
	r = s.Do(t, "GET", "/api/v1/catalog", "", nil).Want(t, 200)
	have := map[string]any{}
	for _, it := range r.Items() {
		if it["owner"] == "customers" {
			have[it["name"].(string)] = it["kind"]
		}
	}
	for name, kind := range map[string]string{"CustomerRegistered": "event", "CustomerEmailVerified": "event",
		"RegisterCustomer": "command", "VerifyEmail": "command", "GetCustomer": "query"} {
		if have[name] != kind {
			t.Errorf("message catalog: %s is %v, want a %s owned by customers", name, have[name], kind)
		}
	}
}
