package cart

import (
	"math"
	"slices"
	"time"

	"acme"
)

// CodeInvalidPromotionCode: the code is unknown, not yet started, expired, its
// minimum subtotal is not met, or no item of the cart is in its scope.
const CodeInvalidPromotionCode = "invalid_promotion_code"

// Promotion is the cart's view of a promotion rule, built from promotions'
// PromotionCreated events (the cart's read model of promotions).
type Promotion struct {
	PromotionID string
	Code        string
	Kind        string      // "percentage" or "fixed"
	PercentBP   int64       // percentage, in basis points (10 % = 1000)
	Amount      acme.Money  // fixed
	MinSubtotal *acme.Money // nil: no minimum
	ProductIDs  []string    // scope; both empty: the whole cart
	CategoryIDs []string
	StartsAt    time.Time // zero: no start
	EndsAt      time.Time // zero: no end
}

// DiscountLine is a cart line as CalculateDiscount needs it.
type DiscountLine struct {
	ProductID  string
	Categories []string // the product's category and the categories above it
	LineTotal  acme.Money
}

// CalculateDiscount is the CalculateDiscount query over the cart's read model of
// promotions: the discount promotion p gives lines (whose subtotal is subtotal)
// at time at. Pure.
//
//   - The promotion applies from StartsAt (inclusive) to EndsAt (exclusive).
//   - MinSubtotal is compared with the whole cart's subtotal (same currency).
//   - The scope is the lines whose product is in ProductIDs or whose category,
//     or a category above it, is in CategoryIDs (a category covers its
//     sub-categories; the whole cart when both are empty); no line in scope is
//     an invalid code.
//   - percentage: PercentBP of the in-scope subtotal, rounded half-up to the
//     minor unit; fixed: Amount (same currency as the cart), capped at the
//     in-scope subtotal.
//
// An inapplicable promotion is an *acme.Error with code invalid_promotion_code.
func CalculateDiscount(p Promotion, lines []DiscountLine, subtotal acme.Money, at time.Time) (acme.Money, error) {
	zero := acme.Money{Currency: subtotal.Currency}
	switch {
	case !p.StartsAt.IsZero() && at.Before(p.StartsAt):
		return zero, acme.Errorf(CodeInvalidPromotionCode, "promotion %s has not started yet", p.Code)
	case !p.EndsAt.IsZero() && !at.Before(p.EndsAt):
		return zero, acme.Errorf(CodeInvalidPromotionCode, "promotion %s has expired", p.Code)
	case len(lines) == 0:
		return zero, acme.Errorf(CodeInvalidPromotionCode, "the cart is empty")
	}
	if m := p.MinSubtotal; m != nil && (m.Currency != subtotal.Currency || subtotal.Amount < m.Amount) {
		return zero, acme.Errorf(CodeInvalidPromotionCode, "promotion %s needs a subtotal of at least %s", p.Code, m.Format())
	}
	scoped := len(p.ProductIDs) > 0 || len(p.CategoryIDs) > 0
	var base int64
	in := 0
	for _, l := range lines {
		inCategory := slices.ContainsFunc(l.Categories, func(c string) bool { return c != "" && slices.Contains(p.CategoryIDs, c) })
		if scoped && !slices.Contains(p.ProductIDs, l.ProductID) && !inCategory {
			continue
		}
		in++
		base = min(base, math.MaxInt64-l.LineTotal.Amount) + l.LineTotal.Amount // saturates, as line totals do
	}
	if in == 0 {
		return zero, acme.Errorf(CodeInvalidPromotionCode, "no item of the cart is eligible for promotion %s", p.Code)
	}
	switch p.Kind {
	case "percentage":
		// base*bp would overflow past about 9.2×10^14 minor units: the whole
		// ten-thousandths first, then the rounded rest.
		amount := base/10000*p.PercentBP + roundHalfUp(base%10000*p.PercentBP, 10000)
		return acme.Money{Amount: amount, Currency: subtotal.Currency}, nil
	case "fixed":
		if p.Amount.Currency != subtotal.Currency {
			return zero, acme.Errorf(CodeInvalidPromotionCode, "promotion %s is in %s, the cart in %s", p.Code, p.Amount.Currency, subtotal.Currency)
		}
		return acme.Money{Amount: min(p.Amount.Amount, base), Currency: subtotal.Currency}, nil
	}
	return zero, acme.Errorf(CodeInvalidPromotionCode, "promotion %s has an unknown kind", p.Code)
}

// roundHalfUp returns n/d rounded half-up (n >= 0, d > 0).
func roundHalfUp(n, d int64) int64 { return (n + d/2) / d }
