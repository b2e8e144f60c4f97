package promotions

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"acme"
)

func TestValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	usd := func(n int64) *acme.Money { return &acme.Money{Amount: n, Currency: "USD"} }
	const id = "0190f0a4-0000-7000-8000-000000000000"
	tests := []struct {
		name  string
		req   CreatePromotionV1
		value string
		bad   []string // fields named in the 422 (nil: valid)
	}{
		{"percentage", CreatePromotionV1{Code: "SAVE10", Kind: "percentage"}, `10`, nil},
		{"percentage with two decimals", CreatePromotionV1{Code: "a_b-1", Kind: "percentage"}, `12.25`, nil},
		{"fixed", CreatePromotionV1{Code: "FIVE", Kind: "fixed", MinSubtotal: usd(1000), ProductIDs: []string{id}, CategoryIDs: []string{id},
			StartsAt: str("2026-01-01T00:00:00Z"), EndsAt: str("2026-02-01T00:00:00+01:00")}, `{"amount":500,"currency":"USD"}`, nil},
		{"no code", CreatePromotionV1{Kind: "percentage"}, `10`, []string{"code"}},
		{"code with spaces", CreatePromotionV1{Code: "SAVE 10", Kind: "percentage"}, `10`, []string{"code"}},
		{"unknown kind", CreatePromotionV1{Code: "X", Kind: "bogo"}, `10`, []string{"kind"}},
		{"percentage 0", CreatePromotionV1{Code: "X", Kind: "percentage"}, `0`, []string{"value"}},
		{"percentage over 100", CreatePromotionV1{Code: "X", Kind: "percentage"}, `100.5`, []string{"value"}},
		{"percentage with three decimals", CreatePromotionV1{Code: "X", Kind: "percentage"}, `10.125`, []string{"value"}},
		{"percentage as money", CreatePromotionV1{Code: "X", Kind: "percentage"}, `{"amount":5,"currency":"USD"}`, []string{"value"}},
		{"percentage missing", CreatePromotionV1{Code: "X", Kind: "percentage"}, ``, []string{"value"}},
		{"fixed as a number", CreatePromotionV1{Code: "X", Kind: "fixed"}, `5`, []string{"value"}},
		{"fixed of 0", CreatePromotionV1{Code: "X", Kind: "fixed"}, `{"amount":0,"currency":"USD"}`, []string{"value.amount"}},
		{"fixed in no currency", CreatePromotionV1{Code: "X", Kind: "fixed"}, `{"amount":5,"currency":"usd"}`, []string{"value.currency"}},
		{"fixed with a min subtotal in another currency", CreatePromotionV1{Code: "X", Kind: "fixed",
			MinSubtotal: &acme.Money{Amount: 1, Currency: "EUR"}}, `{"amount":5,"currency":"USD"}`, []string{"minSubtotal.currency"}},
		{"negative min subtotal", CreatePromotionV1{Code: "X", Kind: "percentage", MinSubtotal: usd(-1)}, `5`, []string{"minSubtotal.amount"}},
		{"bad product id", CreatePromotionV1{Code: "X", Kind: "percentage", ProductIDs: []string{"p1"}}, `5`, []string{"productIds[0]"}},
		{"bad category id", CreatePromotionV1{Code: "X", Kind: "percentage", CategoryIDs: []string{id, "c"}}, `5`, []string{"categoryIds[1]"}},
		{"bad time", CreatePromotionV1{Code: "X", Kind: "percentage", StartsAt: str("tomorrow")}, `5`, []string{"startsAt"}},
		{"ends before it starts", CreatePromotionV1{Code: "X", Kind: "percentage", StartsAt: str("2026-02-01T00:00:00Z"),
			EndsAt: str("2026-01-01T00:00:00Z")}, `5`, []string{"endsAt"}},
		{"everything wrong", CreatePromotionV1{Kind: "fixed", ProductIDs: []string{"x"}}, `{"amount":-1,"currency":"X"}`,
			[]string{"code", "value.amount", "value.currency", "productIds[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Validate(tt.req, json.RawMessage(tt.value))
			if tt.bad == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if r.Code != tt.req.Code || r.Kind != tt.req.Kind {
					t.Fatalf("rule %+v", r)
				}
				return
			}
			e, ok := err.(*acme.Error)
			if !ok || e.Code != acme.CodeValidationFailed {
				t.Fatalf("err = %v, want validation_failed", err)
			}
			var fields []string
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			if !reflect.DeepEqual(fields, tt.bad) {
				t.Fatalf("fields %v, want %v", fields, tt.bad)
			}
		})
	}
	r, _ := Validate(CreatePromotionV1{Code: "W", Kind: "percentage", StartsAt: str("2026-02-01T01:00:00+01:00")}, json.RawMessage(`7.5`))
	if r.Percent != 7.5 || !r.StartsAt.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) || r.StartsAt.Location() != time.UTC {
		t.Fatalf("rule %+v", r)
	}
}

func TestPromotionDecider(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ten := Rule{Code: "Save10", Kind: KindPercentage, Percent: 10}
	got, err := Decider.Decide(Code{}, createPromotion{PromotionID: "p1", Rule: ten, At: at})
	pct := 10.0
	want := []any{PromotionCreatedV1{PromotionID: "p1", Code: "Save10", Kind: "percentage", Percent: &pct,
		ProductIDs: []string{}, CategoryIDs: []string{}, CreatedAt: at}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("create: %#v, %v", got, err)
	}
	state := Decider.Evolve(Code{}, got[0])
	if _, err := Decider.Decide(state, createPromotion{PromotionID: "p2", Rule: ten, At: at}); acme.ErrorCode(err) != CodePromotionCodeTaken {
		t.Fatalf("second create: %v", err)
	}
	five := Rule{Code: "FIVE", Kind: KindFixed, Amount: acme.Money{Amount: 500, Currency: "USD"}}
	got, _ = Decider.Decide(Code{}, createPromotion{PromotionID: "p3", Rule: five, At: at})
	if e := got[0].(PromotionCreatedV1); e.Percent != nil || e.Amount == nil || *e.Amount != five.Amount {
		t.Fatalf("fixed: %#v", e)
	}
	if StreamID("save10") != StreamID(" SAVE10") {
		t.Fatal("codes are not case-insensitive")
	}
}
