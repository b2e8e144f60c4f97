package inventory

import (
	"reflect"
	"testing"

	"acme"
)

const (
	pid = "0190a000-0000-7000-8000-000000000001"
	vid = "0190a000-0000-7000-8000-0000000000v1"
	at  = "2026-11-23T10:00:00.000000Z"
)

func given(events ...any) StockItem {
	s := StockItem{ProductID: pid}
	for _, e := range events {
		s = evolveStock(s, e)
	}
	return s
}

func lv(onHand, reserved int64) []Level {
	return []Level{{ProductID: pid, OnHand: onHand, Reserved: reserved, Available: onHand - reserved}}
}

func restocked(q int64) InventoryRestockedV1 {
	return InventoryRestockedV1{ProductID: pid, Quantity: q}
}

func held(co string, q int64) StockHeldV1 {
	return StockHeldV1{CheckoutID: co, ProductID: pid, Quantity: q}
}

func TestStockDecider(t *testing.T) {
	tests := []struct {
		name  string
		given []any
		when  StockCommand
		then  []any
		code  string
	}{
		{"restock an empty item", nil, Restock{ProductID: pid, Quantity: 5, At: at},
			[]any{InventoryRestockedV1{ProductID: pid, Quantity: 5, Levels: lv(5, 0), RestockedAt: at}}, ""},
		{"restock adds to on hand, keeps reserved", []any{restocked(5), held("c1", 2)}, Restock{ProductID: pid, Quantity: 3, At: at},
			[]any{InventoryRestockedV1{ProductID: pid, Quantity: 3, Levels: lv(8, 2), RestockedAt: at}}, ""},
		{"restock zero", nil, Restock{ProductID: pid, Quantity: 0}, nil, CodeInvalidQuantity},
		{"restock negative", nil, Restock{ProductID: pid, Quantity: -1}, nil, CodeInvalidQuantity},
		{"restock above the cap", nil, Restock{ProductID: pid, Quantity: MaxRestock + 1}, nil, CodeInvalidQuantity},
		{"variant restock carries the variant", nil, Restock{ProductID: pid, VariantID: vid, Quantity: 1, At: at},
			[]any{InventoryRestockedV1{ProductID: pid, VariantID: vid, Quantity: 1,
				Levels: []Level{{ProductID: pid, VariantID: vid, OnHand: 1, Available: 1}}, RestockedAt: at}}, ""},
		{"hold within available", []any{restocked(5)}, Hold{CheckoutID: "c1", ProductID: pid, Quantity: 2, At: at},
			[]any{StockHeldV1{CheckoutID: "c1", ProductID: pid, Quantity: 2, Levels: lv(5, 2), At: at}}, ""},
		{"hold the last units: out of stock", []any{restocked(5), held("c1", 2)}, Hold{CheckoutID: "c2", ProductID: pid, Quantity: 3, At: at},
			[]any{StockHeldV1{CheckoutID: "c2", ProductID: pid, Quantity: 3, Levels: lv(5, 5), At: at},
				OutOfStockV1{ProductID: pid, At: at}}, ""},
		{"hold more than available", []any{restocked(5), held("c1", 4)}, Hold{CheckoutID: "c2", ProductID: pid, Quantity: 2}, nil, CodeInsufficientStock},
		{"hold of an item never stocked", nil, Hold{CheckoutID: "c1", ProductID: pid, Quantity: 1}, nil, CodeInsufficientStock},
		{"hold twice for one checkout is a no-op", []any{restocked(5), held("c1", 2)}, Hold{CheckoutID: "c1", ProductID: pid, Quantity: 2}, nil, ""},
		{"hold zero", []any{restocked(5)}, Hold{CheckoutID: "c1", ProductID: pid, Quantity: 0}, nil, CodeInvalidQuantity},
		{"unhold gives units back", []any{restocked(5), held("c1", 5)}, Unhold{CheckoutID: "c1", Reason: ReasonExpired, At: at},
			[]any{StockHoldReleasedV1{CheckoutID: "c1", ProductID: pid, Quantity: 5, Reason: ReasonExpired, Levels: lv(5, 0), At: at}}, ""},
		{"unhold of an unknown checkout is a no-op", []any{restocked(5), held("c1", 5)}, Unhold{CheckoutID: "c2", Reason: ReasonExpired}, nil, ""},
		{"unhold twice is a no-op", []any{restocked(5), held("c1", 5), StockHoldReleasedV1{CheckoutID: "c1", Quantity: 5}},
			Unhold{CheckoutID: "c1", Reason: ReasonExpired}, nil, ""},
		{"deduct ships held units", []any{restocked(5), held("c1", 2)}, DeductHold{CheckoutID: "c1", OrderID: "o1", At: at},
			[]any{StockHoldDeductedV1{CheckoutID: "c1", OrderID: "o1", ProductID: pid, Quantity: 2, Levels: lv(3, 0), At: at}}, ""},
		{"deduct after release is a no-op", []any{restocked(5), held("c1", 2), StockHoldReleasedV1{CheckoutID: "c1", Quantity: 2}},
			DeductHold{CheckoutID: "c1", OrderID: "o1"}, nil, ""},
		{"deduct twice is a no-op", []any{restocked(5), held("c1", 2), StockHoldDeductedV1{CheckoutID: "c1", Quantity: 2}},
			DeductHold{CheckoutID: "c1", OrderID: "o1"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := given(tt.given...)
			before := st.Level()
			got, err := decideStock(st, tt.when)
			if code := acme.ErrorCode(err); code != tt.code {
				t.Fatalf("error code %q (%v), want %q", code, err, tt.code)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("events\n got %#v\nwant %#v", got, tt.then)
			}
			if st.Level() != before {
				t.Fatalf("decide mutated its state")
			}
			for _, e := range got {
				st = evolveStock(st, e)
			}
			if st.Available() < 0 || st.Reserved < 0 || st.Reserved > st.OnHand {
				t.Fatalf("invariant broken: %+v", st.Level())
			}
		})
	}
}

func TestEvolveDoesNotShareHolds(t *testing.T) {
	a := given(restocked(5), held("c1", 1))
	b := evolveStock(a, held("c2", 1))
	if _, ok := a.Holds["c2"]; ok {
		t.Fatal("evolve wrote into the previous state's holds")
	}
	if len(b.Holds) != 2 {
		t.Fatalf("holds %v", b.Holds)
	}
}
