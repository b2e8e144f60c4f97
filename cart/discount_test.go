package cart

import (
	"testing"
	"time"

	"acme"
)

func TestCalculateDiscount(t *testing.T) {
	noon := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	line := func(product, category string, total int64) DiscountLine {
		return DiscountLine{ProductID: product, Categories: []string{category}, LineTotal: usd(total)}
	}
	pct := func(bp int64) Promotion { return Promotion{Code: "P", Kind: "percentage", PercentBP: bp} }
	fixed := func(n int64) Promotion { return Promotion{Code: "F", Kind: "fixed", Amount: usd(n)} }
	mod := func(p Promotion, f func(*Promotion)) Promotion { f(&p); return p }
	sum := func(ls []DiscountLine) acme.Money {
		s := usd(0)
		for _, l := range ls {
			s.Amount += l.LineTotal.Amount
		}
		return s
	}
	two := []DiscountLine{line("a", "shirts", 1999), line("b", "shoes", 5000)}
	tests := []struct {
		name  string
		promo Promotion
		lines []DiscountLine
		at    time.Time
		want  int64
		code  string
	}{
		{"10 % of 1999 is 199.9 → 200", pct(1000), []DiscountLine{line("a", "", 1999)}, noon, 200, ""},
		{"10 % of 1994 is 199.4 → 199", pct(1000), []DiscountLine{line("a", "", 1994)}, noon, 199, ""},
		{"half rounds up: 10 % of 1995 is 199.5 → 200", pct(1000), []DiscountLine{line("a", "", 1995)}, noon, 200, ""},
		{"12.5 % of 999 is 124.875 → 125", pct(1250), []DiscountLine{line("a", "", 999)}, noon, 125, ""},
		{"0.01 % of 4999 is 0.4999 → 0", pct(1), []DiscountLine{line("a", "", 4999)}, noon, 0, ""},
		{"100 %", pct(10000), two, noon, 6999, ""},
		{"100 % of the largest cart does not overflow", pct(10000), []DiscountLine{line("a", "", acme.MaxAmount)}, noon, acme.MaxAmount, ""},
		{"99.99 % of 950,000,000,000,001 → 949,905,000,000,000.9999 → …001", pct(9999), []DiscountLine{line("a", "", 950_000_000_000_001)}, noon, 949_905_000_000_001, ""},
		{"percentage of the whole cart", pct(1000), two, noon, 700, ""},
		{"product scope", mod(pct(1000), func(p *Promotion) { p.ProductIDs = []string{"b"} }), two, noon, 500, ""},
		{"category scope", mod(pct(1000), func(p *Promotion) { p.CategoryIDs = []string{"shirts"} }), two, noon, 200, ""},
		{"product or category scope", mod(pct(1000), func(p *Promotion) { p.ProductIDs, p.CategoryIDs = []string{"b"}, []string{"shirts"} }), two, noon, 700, ""},
		{"nothing in scope", mod(pct(1000), func(p *Promotion) { p.ProductIDs = []string{"z"} }), two, noon, 0, CodeInvalidPromotionCode},
		{"fixed", fixed(500), two, noon, 500, ""},
		{"fixed capped at the in-scope subtotal", mod(fixed(5000), func(p *Promotion) { p.CategoryIDs = []string{"shirts"} }), two, noon, 1999, ""},
		{"fixed in another currency", mod(fixed(500), func(p *Promotion) { p.Amount.Currency = "EUR" }), two, noon, 0, CodeInvalidPromotionCode},
		{"min subtotal met", mod(fixed(500), func(p *Promotion) { m := usd(6999); p.MinSubtotal = &m }), two, noon, 500, ""},
		{"min subtotal not met", mod(fixed(500), func(p *Promotion) { m := usd(7000); p.MinSubtotal = &m }), two, noon, 0, CodeInvalidPromotionCode},
		{"not started", mod(pct(1000), func(p *Promotion) { p.StartsAt = noon.Add(time.Second) }), two, noon, 0, CodeInvalidPromotionCode},
		{"starts now (inclusive)", mod(pct(1000), func(p *Promotion) { p.StartsAt = noon }), two, noon, 700, ""},
		{"ends now (exclusive)", mod(pct(1000), func(p *Promotion) { p.EndsAt = noon }), two, noon, 0, CodeInvalidPromotionCode},
		{"inside the window", mod(pct(1000), func(p *Promotion) { p.StartsAt, p.EndsAt = noon.Add(-time.Hour), noon.Add(time.Hour) }), two, noon, 700, ""},
		{"empty cart", pct(1000), nil, noon, 0, CodeInvalidPromotionCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CalculateDiscount(tt.promo, tt.lines, sum(tt.lines), tt.at)
			if acme.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want code %q", err, tt.code)
			}
			if got != usd(tt.want) {
				t.Fatalf("discount = %+v, want %d USD", got, tt.want)
			}
		})
	}
}
