package acmetest_test

import (
	"net/http"
	"strings"
	"testing"

	"acme/acmetest"
)

func TestProgram(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		r := s.Do(t, "GET", "/readyz", "", nil).Want(t, 200)
		if strings.TrimSpace(string(r.Body)) != "ready" {
			t.Fatalf("readyz body %q", r.Body)
		}
		s.Do(t, "GET", "/healthz", "", nil).Want(t, 200)
		r = s.Do(t, "GET", "/metrics", "", nil).Want(t, 200)
		if !strings.Contains(string(r.Body), "acme_http_requests_total") {
			t.Fatalf("metrics lack acme_http_requests_total:\n%.500s", r.Body)
		}
		r = s.Do(t, "GET", "/api/v1/openapi.json", "", nil).Want(t, 200)
		if r.Str("openapi") != "3.1.0" {
			t.Fatalf("openapi = %q", r.Str("openapi"))
		}
		r = s.Do(t, "GET", "/api/v1/catalog", "", nil).Want(t, 200)
		if _, ok := r.Map()["items"].([]any); !ok {
			t.Fatalf("catalog has no items array: %.300s", r.Body)
		}
		// Every message names who sends it; every command and query who handles it.
		for _, m := range r.Items() {
			producers, _ := m["producers"].([]any)
			consumers, _ := m["consumers"].([]any)
			if len(producers) == 0 || (m["kind"] != "event" && len(consumers) == 0) {
				t.Errorf("catalog entry %s (%s): producers %v, consumers %v", m["name"], m["kind"], producers, consumers)
			}
		}
		s.Do(t, "GET", "/api/v1/no-such-thing", "", nil).WantError(t, 404, "not_found")
		s.Do(t, "DELETE", "/api/v1/catalog", "", nil).WantError(t, 405, "method_not_allowed")
		s.Do(t, "GET", "/api/v1/catalog", "not-a-valid-token", nil).Want(t, 200) // a public route needs no token
		s.Do(t, "GET", "/api/v1/cart", "not-a-valid-token", nil).WantError(t, 401, "unauthorized")
		s.Do(t, "GET", "/api/v1/catalog", s.AdminToken, nil).Want(t, 200)
		if id := r.Header.Get("X-Correlation-Id"); id == "" {
			t.Fatal("no X-Correlation-Id")
		}
		r = s.DoWith(t, "GET", "/healthz", "", nil, map[string]string{"X-Correlation-Id": "my-corr-1"})
		if got := r.Header.Get("X-Correlation-Id"); got != "my-corr-1" {
			t.Fatalf("X-Correlation-Id = %q, want the client's", got)
		}
	})
}

func TestRestartKeepsServing(t *testing.T) {
	s := acmetest.Start(t, acmetest.Embedded)
	s.Do(t, "GET", "/readyz", "", nil).Want(t, http.StatusOK)
	s.Restart(t)
	s.Do(t, "GET", "/readyz", "", nil).Want(t, http.StatusOK)
}
