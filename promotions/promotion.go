package promotions

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"acme"
	"acme/es"
)

// CodePromotionCodeTaken: another promotion has the code (case-insensitive).
const CodePromotionCodeTaken = "promotion_code_taken"

// Kinds of promotion.
const (
	KindPercentage = "percentage"
	KindFixed      = "fixed"
)

// Code is the state of a promotion code's stream ("promotion-<CODE>"): the
// stream per code makes the code unique without a race (the second creation
// loses on the stream version and then sees the code taken).
type Code struct {
	PromotionID string `json:"promotionId"`
}

// Rule is a validated promotion, ready to be created.
type Rule struct {
	Code        string
	Kind        string
	Percent     float64    // percentage
	Amount      acme.Money // fixed
	MinSubtotal *acme.Money
	ProductIDs  []string
	CategoryIDs []string
	StartsAt    *time.Time
	EndsAt      *time.Time
}

type createPromotion struct {
	PromotionID string
	Rule        Rule
	At          time.Time
}

// Decider is the promotion code aggregate.
var Decider = es.Decider[Code, createPromotion]{
	Decide: func(c Code, cmd createPromotion) ([]any, error) {
		if c.PromotionID != "" {
			return nil, acme.Errorf(CodePromotionCodeTaken, "the code %s is taken", cmd.Rule.Code)
		}
		r := cmd.Rule
		e := PromotionCreatedV1{PromotionID: cmd.PromotionID, Code: r.Code, Kind: r.Kind, MinSubtotal: r.MinSubtotal,
			ProductIDs: orEmpty(r.ProductIDs), CategoryIDs: orEmpty(r.CategoryIDs), StartsAt: r.StartsAt, EndsAt: r.EndsAt, CreatedAt: cmd.At}
		if r.Kind == KindPercentage {
			p := r.Percent
			e.Percent = &p
		} else {
			a := r.Amount
			e.Amount = &a
		}
		return []any{e}, nil
	},
	Evolve: func(c Code, e any) Code {
		if e, ok := e.(PromotionCreatedV1); ok {
			c.PromotionID = e.PromotionID
		}
		return c
	},
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$`)

// CodeKey is a code's uniqueness key (case-insensitive).
func CodeKey(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// Validate turns a CreatePromotion request into a Rule, or a 422
// validation_failed listing every invalid field. Pure.
func Validate(req CreatePromotionV1, value json.RawMessage) (Rule, error) {
	var errs []acme.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, acme.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	r := Rule{Code: strings.TrimSpace(req.Code), Kind: req.Kind}
	if !codePattern.MatchString(r.Code) {
		bad("code", "must be 1-50 letters, digits, '-' or '_', starting with a letter or digit")
	}
	switch req.Kind {
	case KindPercentage:
		var p float64
		if err := json.Unmarshal(value, &p); err != nil || len(value) == 0 || string(value) == "null" {
			bad("value", "must be a number of percent for kind percentage")
		} else if p <= 0 || p > 100 || math.Abs(p*100-math.Round(p*100)) > 1e-9 {
			bad("value", "must be more than 0 and at most 100, with at most two decimals")
		}
		r.Percent = p
	case KindFixed:
		var m *acme.Money
		dec := json.NewDecoder(strings.NewReader(string(value)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil || m == nil {
			bad("value", "must be money {amount, currency} for kind fixed")
		} else {
			if m.Amount <= 0 {
				bad("value.amount", "must be more than 0")
			}
			if !acme.ValidCurrency(m.Currency) {
				bad("value.currency", "must be an ISO 4217 code")
			}
			r.Amount = *m
		}
	default:
		bad("kind", `must be "percentage" or "fixed"`)
	}
	if m := req.MinSubtotal; m != nil {
		if m.Amount < 0 {
			bad("minSubtotal.amount", "must be 0 or more")
		}
		if !acme.ValidCurrency(m.Currency) {
			bad("minSubtotal.currency", "must be an ISO 4217 code")
		} else if req.Kind == KindFixed && r.Amount.Currency != "" && m.Currency != r.Amount.Currency {
			bad("minSubtotal.currency", "must be the currency of value")
		}
		mm := *m
		r.MinSubtotal = &mm
	}
	ids := func(field string, in []string) []string {
		out := []string{}
		seen := map[string]bool{}
		for i, id := range in {
			if !acme.ValidID(id) {
				bad(fmt.Sprintf("%s[%d]", field, i), "must be a UUID")
				continue
			}
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
		return out
	}
	r.ProductIDs = ids("productIds", req.ProductIDs)
	r.CategoryIDs = ids("categoryIds", req.CategoryIDs)
	when := func(field string, s *string) *time.Time {
		if s == nil {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, *s)
		if err != nil {
			bad(field, "must be an RFC 3339 time")
			return nil
		}
		t = t.UTC().Truncate(time.Microsecond)
		return &t
	}
	r.StartsAt, r.EndsAt = when("startsAt", req.StartsAt), when("endsAt", req.EndsAt)
	if r.StartsAt != nil && r.EndsAt != nil && !r.EndsAt.After(*r.StartsAt) {
		bad("endsAt", "must be after startsAt")
	}
	if len(errs) > 0 {
		return Rule{}, acme.Invalid(errs...)
	}
	return r, nil
}
