package promotions

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/httpapi"
	"acme/sqlite"
)

// FuzzCreatePromotionBody posts arbitrary bytes as the admin: the decoding and
// validation never panic or answer 5xx; every 4xx is problem+json with a code;
// every 201 is a promotion that obeys the rules.
func FuzzCreatePromotionBody(f *testing.F) {
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "promotions.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	m := New(nil)
	reg, _ := es.NewRegistry(m.Messages()...)
	if err := m.Start(context.Background(), estest.NewHost("promotions", st, reg)); err != nil {
		f.Fatal(err)
	}
	api := httpapi.New("fuzz-admin")
	m.Routes(api)
	for _, s := range []string{
		`{"code":"TEN","kind":"percentage","value":10}`,
		`{"code":"FIVE","kind":"fixed","value":{"amount":500,"currency":"USD"},"minSubtotal":{"amount":1000,"currency":"USD"}}`,
		`{"code":"W","kind":"percentage","value":12.5,"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-02-01T00:00:00Z","productIds":["0190f0a4-0000-7000-8000-000000000000"]}`,
		`{"code":"X","kind":"percentage","value":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/v1/promotions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer fuzz-admin")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		switch {
		case w.Code >= 500:
			t.Fatalf("%q → %d %s", body, w.Code, w.Body)
		case w.Code >= 400:
			var p httpapi.Problem
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code == "" {
				t.Fatalf("%q → %d %s", body, w.Code, w.Body)
			}
		case w.Code == 201:
			var v struct {
				Kind  string          `json:"kind"`
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			var pct float64
			var amt acme.Money
			if v.Kind == KindPercentage && (json.Unmarshal(v.Value, &pct) != nil || pct <= 0 || pct > 100 || math.IsNaN(pct)) ||
				v.Kind == KindFixed && (json.Unmarshal(v.Value, &amt) != nil || amt.Amount <= 0 || !acme.ValidCurrency(amt.Currency)) {
				t.Fatalf("%q created %s", body, w.Body)
			}
		default:
			t.Fatalf("%q → %d", body, w.Code)
		}
	})
}
