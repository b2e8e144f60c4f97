package customers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"acme/httpapi"
)

// fuzzBody posts arbitrary bytes to a route of a started module: the decoding
// must never panic or answer 5xx, and every 4xx is problem+json with a code.
func fuzzBody(f *testing.F, method, path string) {
	m, _ := startModule(f)
	api := httpapi.New("fuzz-admin-token")
	api.Auth = m
	m.Routes(api)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		checkFuzzResponse(t, rec, body)
	})
}

func checkFuzzResponse(t *testing.T, rec *httptest.ResponseRecorder, body []byte) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("body %q: status %d with Content-Type %q", body, rec.Code, ct)
		}
		var p struct {
			Code   string `json:"code"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
			t.Fatalf("body %q: problem %s (%v)", body, rec.Body, err)
		}
	}
	if !json.Valid(body) && rec.Code < 400 {
		t.Fatalf("invalid JSON %q accepted with %d", body, rec.Code)
	}
}

func FuzzRegisterCustomerBody(f *testing.F) { fuzzBody(f, http.MethodPost, "/api/v1/customers") }

func FuzzLoginBody(f *testing.F) { fuzzBody(f, http.MethodPost, "/api/v1/sessions") }

func FuzzVerifyEmailBody(f *testing.F) {
	f.Add([]byte(`{"token":"abc"}`))
	f.Add([]byte(`{"token":""}`))
	f.Add([]byte(`{"token":"\u0000"}`))
	fuzzBody(f, http.MethodPost, "/api/v1/customers/verify-email")
}
