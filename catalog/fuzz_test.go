package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"acme"
	"acme/httpapi"
)

// fixedIDs are the ids the seed corpus refers to: a category and a product that
// exist in every fuzz run.
const (
	fuzzCategoryID = "0190f0a4-1111-7000-8000-000000000001"
	fuzzProductID  = "0190f0a4-2222-7000-8000-000000000002"
)

// fuzzBody posts arbitrary bytes (as the admin) to a catalog route: the decoding
// must never panic or answer 5xx, and every 4xx is problem+json with a code.
func fuzzBody(f *testing.F, method, path string) {
	m, st := startModule(f)
	ctx := context.Background()
	// A category and a product with known ids for the corpus to refer to.
	if _, err := m.categories.Handle(ctx, categoryStream(fuzzCategoryID), createCategory{CategoryID: fuzzCategoryID, Name: "Fuzz", At: m.now()}); err != nil {
		f.Fatal(err)
	}
	_ = st
	if _, _, err := m.productCommand(ctx, fuzzProductID, createProduct{ProductID: fuzzProductID, Name: "Fuzz", Price: acme.Money{Amount: 100, Currency: "USD"},
		CategoryID: fuzzCategoryID, CategoryExists: true, At: m.now()}); err != nil {
		f.Fatal(err)
	}
	api := httpapi.New("fuzz-admin-token")
	m.Routes(api)
	path = strings.ReplaceAll(path, "{id}", fuzzProductID)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer fuzz-admin-token")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
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
	})
}

func FuzzCreateCategoryBody(f *testing.F) { fuzzBody(f, http.MethodPost, "/api/v1/categories") }
func FuzzCreateProductBody(f *testing.F)  { fuzzBody(f, http.MethodPost, "/api/v1/products") }
func FuzzUpdateProductBody(f *testing.F)  { fuzzBody(f, http.MethodPatch, "/api/v1/products/{id}") }
func FuzzUpdatePriceBody(f *testing.F)    { fuzzBody(f, http.MethodPut, "/api/v1/products/{id}/price") }
func FuzzAddVariantBody(f *testing.F)     { fuzzBody(f, http.MethodPost, "/api/v1/products/{id}/variants") }
