package reviews

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"acme"
	"acme/httpapi"
)

// checkClientError fails unless err is nil or an *acme.Error whose code maps to a 4xx.
func checkClientError(t *testing.T, body []byte, err error) {
	if err == nil {
		return
	}
	code := acme.ErrorCode(err)
	status, ok := httpapi.StatusOf(code)
	if !ok || status < 400 || status >= 500 {
		t.Fatalf("body %q gave %v (code %q, status %d); want a 4xx problem", body, err, code, status)
	}
}

func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{`{"rating":5,"title":"Great","body":"Works."}`, `{"rating":4.5,"title":"x","body":"y"}`,
		`{"rating":"5"}`, `{}`, `[]`, `{"rating":5,"title":"t","body":"b","extra":1}`, `{"rating":1e400}`, "\x00", ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rating, title, text, err := decodeSubmit(httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		checkClientError(t, body, err)
		if err == nil && (rating < 1 || rating > 5 || title == "" || text == "") {
			t.Fatalf("accepted %q as rating %d title %q body %q", body, rating, title, text)
		}
	})
}

func FuzzDecodeFlag(f *testing.F) {
	for _, s := range []string{`{"reason":"spam"}`, `{"reason":"nope"}`, `{"reason":1}`, `{"reason":"other","notes":"x"}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeFlag(httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		checkClientError(t, body, err)
		if err == nil && !flagReasons[req.Reason] {
			t.Fatalf("accepted reason %q", req.Reason)
		}
	})
}
