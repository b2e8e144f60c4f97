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

func TestMoneyFormat(t *testing.T) {
	for _, c := range []struct {
		m    acme.Money
		want string
	}{
		{acme.Money{10000, "USD"}, "100.00 USD"},
		{acme.Money{1, "EUR"}, "0.01 EUR"},
		{acme.Money{-1999, "USD"}, "-19.99 USD"},
		{acme.Money{500, "JPY"}, "500 JPY"},
		{acme.Money{1500, "BHD"}, "1.500 BHD"},
		{acme.Money{7, "XYZ"}, "7 XYZ"}, // unknown code: minor units as they are
	} {
		if got := c.m.Format(); got != c.want {
			t.Errorf("%+v.Format() = %q, want %q", c.m, got, c.want)
		}
	}
}

func TestHasControl(t *testing.T) {
	for s, want := range map[string]bool{"1Z999AA": false, "Café 12": false, "a\nb": true, "a\x00b": true, "a\u0085b": true, "a\tb": true} {
		if acme.HasControl(s) != want {
			t.Errorf("HasControl(%q) = %v, want %v", s, !want, want)
		}
	}
}

func TestBlank(t *testing.T) {
	for s, want := range map[string]bool{"": true, " \t": true, "\u200b": true, " \u200d\ufeff ": true, "Ann": false, "\u200bAnn": false, "é": false, "·": false,
		"\u3164": true, "\u115f\u034f": true, "\uffa0": true, "\u2800": true, "\ufe0f": true} {
		if acme.Blank(s) != want {
			t.Errorf("Blank(%q) = %v, want %v", s, !want, want)
		}
	}
}

func TestHasControlInText(t *testing.T) {
	for s, want := range map[string]bool{"two\nlines\r\n\tindented": false, "a\x00b": true, "bell\a": true, "Café": false} {
		if acme.HasControlInText(s) != want {
			t.Errorf("HasControlInText(%q) = %v, want %v", s, !want, want)
		}
	}
}
