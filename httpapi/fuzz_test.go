package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"acme"
	"acme/httpapi"
)

// FuzzParsePosition: a token either fails to parse or round-trips.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"", "catalog:1", "catalog:12,inventory:7", "a:-1", "x", ":3", "a:1,a:2", "a:99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := httpapi.ParsePosition(s)
		if p == nil {
			return
		}
		for k, v := range p {
			if k == "" || v < 0 {
				t.Fatalf("%q parsed to %v", s, p)
			}
		}
		again := httpapi.ParsePosition(p.String())
		if len(again) != len(p) {
			t.Fatalf("%q: %v does not round-trip (%v)", s, p, again)
		}
		for k, v := range p {
			if again[k] != v {
				t.Fatalf("%q: %v does not round-trip (%v)", s, p, again)
			}
		}
	})
}

// FuzzDecode: any body either decodes or is a 400/413 client error, never a panic
// or another error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":1}`, `{}`, ``, `[]`, `{"name":"a"} {}`, `{"x":1}`, `null`, `{"name":"\u00e9"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var v struct {
			Name string `json:"name"`
		}
		err := httpapi.Decode(r, &v)
		if err == nil {
			return
		}
		switch acme.ErrorCode(err) {
		case acme.CodeBadRequest, acme.CodePayloadTooLarge:
		default:
			t.Fatalf("body %q: %v", body, err)
		}
	})
}

// TestDecodeIsStrict: field names match exactly, at every depth; a body must
// be one JSON object of valid UTF-8.
func TestDecodeIsStrict(t *testing.T) {
	type money struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	type base struct {
		ID string `json:"id"`
	}
	type req struct {
		base
		Name  string           `json:"name"`
		Price *money           `json:"price"`
		Lines []money          `json:"lines"`
		ByKey map[string]money `json:"byKey"`
		Plain int
	}
	good := []string{
		`{"name":"a"}`, `{}`, `  {"id":"x","Plain":1}`, `{"price":{"amount":1,"currency":"USD"}}`, `{"price":null}`,
		`{"lines":[{"amount":1}],"byKey":{"k":{"currency":"EUR"}}}`,
	}
	for _, body := range good {
		var v req
		if err := httpapi.Decode(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	bad := []string{
		`{"NAME":"a"}`, `{"Name":"a"}`, `{"ID":"x"}`, `{"plain":1}`, `{"price":{"AMOUNT":1}}`, `{"lines":[{"Amount":1}]}`,
		`{"byKey":{"k":{"Currency":"EUR"}}}`, `null`, `[]`, `"x"`, `1`, "{\"name\":\"\xff\"}", ``, `   `,
	}
	for _, body := range bad {
		var v req
		if err := httpapi.Decode(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v); acme.ErrorCode(err) != acme.CodeBadRequest {
			t.Errorf("%q: %v, want bad_request", body, err)
		}
	}
}
