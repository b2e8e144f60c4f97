package acme_test

import (
	"testing"

	"acme"
)

func TestNormalizeID(t *testing.T) {
	for in, want := range map[string]string{
		"0190F0A4-0000-7000-8000-00000000ABCD":       "0190f0a4-0000-7000-8000-00000000abcd",
		"0190f0a4-0000-7000-8000-00000000abcd":       "0190f0a4-0000-7000-8000-00000000abcd",
		"NOPE":                                       "NOPE", // not an id: left as it is
		"order-0190F0A4-0000-7000-8000-00000000ABCD": "order-0190F0A4-0000-7000-8000-00000000ABCD",
		"": "",
	} {
		if got := acme.NormalizeID(in); got != want {
			t.Errorf("NormalizeID(%q) = %q, want %q", in, got, want)
		}
	}
}
