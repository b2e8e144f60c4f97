package inventory

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"acme"
	"acme/httpapi"
)

// FuzzDecodeRestock: any body gives a valid request or a 4xx problem code,
// never a panic; a decoded quantity is always in range.
func FuzzDecodeRestock(f *testing.F) {
	for _, s := range []string{`{"quantity": 5}`, `{"quantity": 1, "variantId": "0190a000-0000-7000-8000-000000000001"}`,
		`{"quantity": 0}`, `{"quantity": -1}`, `{"quantity": 1e3}`, `{"quantity": "5"}`, `{}`, ``, `[]`, `null`,
		`{"quantity": 99999999999999999999}`, `{"quantity": 1}{"quantity": 2}`, `{"quantity": 1, "x": 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/v1/inventory/p/restock", bytes.NewReader(body))
		req, err := DecodeRestock(r)
		if err != nil {
			code := acme.ErrorCode(err)
			status, ok := httpapi.StatusOf(code)
			if !ok || status < 400 || status >= 500 {
				t.Fatalf("body %q: error %v (code %q, status %d)", body, err, code, status)
			}
			return
		}
		if req.Quantity < 1 || req.Quantity > MaxRestock || len(req.VariantID) > 100 {
			t.Fatalf("body %q accepted as %+v", body, req)
		}
	})
}
