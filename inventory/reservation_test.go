package inventory

import (
	"math"
	"reflect"
	"slices"
	"testing"

	"acme"
)

const (
	p1  = "0190a000-0000-7000-8000-0000000000a1"
	p2  = "0190a000-0000-7000-8000-0000000000a2"
	co  = "0190a000-0000-7000-8000-0000000000c1"
	exp = "2026-11-23T10:15:00.000000Z"
)

func item(p string, onHand int64, holds map[string]int64) StockItem {
	s := StockItem{ProductID: p, OnHand: onHand, Holds: holds}
	for _, q := range holds {
		s.Reserved += q
	}
	return s
}

func TestDecideReserve(t *testing.T) {
	stock := map[string]StockItem{
		StockStreamID(p1, ""): item(p1, 5, nil),
		StockStreamID(p2, ""): item(p2, 2, map[string]int64{"other": 1}),
	}
	tests := []struct {
		name  string
		res   Reservation
		cmd   ReserveCmd
		resEv []any
		stock map[string][]any
		code  string
	}{
		{"all lines available: every item held, sorted, duplicates merged", Reservation{},
			ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: p2, Quantity: 1}, {ProductID: p1, Quantity: 2}, {ProductID: p1, Quantity: 1}}, ExpiresAt: exp, At: at},
			[]any{InventoryReservedV1{CheckoutID: co, Items: []Line{{ProductID: p1, Quantity: 3}, {ProductID: p2, Quantity: 1}},
				Levels:     []Level{{ProductID: p1, OnHand: 5, Reserved: 3, Available: 2}, {ProductID: p2, OnHand: 2, Reserved: 2, Available: 0}},
				ReservedAt: at, ExpiresAt: exp}},
			map[string][]any{
				StockStreamID(p1, ""): {StockHeldV1{CheckoutID: co, ProductID: p1, Quantity: 3, Levels: []Level{{ProductID: p1, OnHand: 5, Reserved: 3, Available: 2}}, At: at}},
				StockStreamID(p2, ""): {StockHeldV1{CheckoutID: co, ProductID: p2, Quantity: 1, Levels: []Level{{ProductID: p2, OnHand: 2, Reserved: 2, Available: 0}}, At: at},
					OutOfStockV1{ProductID: p2, At: at}},
			}, ""},
		{"one line short: nothing held, the short line reported", Reservation{},
			ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: p1, Quantity: 1}, {ProductID: p2, Quantity: 2}}, ExpiresAt: exp, At: at},
			[]any{InventoryUnavailableV1{CheckoutID: co, Items: []Shortage{{ProductID: p2, Requested: 2, Available: 1}}, At: at}}, nil, ""},
		{"unknown item counts as zero", Reservation{},
			ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: "nope", Quantity: 1}}, At: at},
			[]any{InventoryUnavailableV1{CheckoutID: co, Items: []Shortage{{ProductID: "nope", Requested: 1, Available: 0}}, At: at}}, nil, ""},
		{"already reserved: no-op", Reservation{CheckoutID: co, Status: StatusReserved},
			ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: p1, Quantity: 1}}}, nil, nil, ""},
		{"already refused: no-op", Reservation{CheckoutID: co, Status: StatusUnavailable},
			ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: p1, Quantity: 1}}}, nil, nil, ""},
		{"more than one restock brings, more than available: a shortage, not a malformed command", Reservation{},
			ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: p1, Quantity: MaxRestock + 1}}, At: at},
			[]any{InventoryUnavailableV1{CheckoutID: co, Items: []Shortage{{ProductID: p1, Requested: MaxRestock + 1, Available: 5}}, At: at}}, nil, ""},
		{"lines of one item whose sum overflows: saturated, a shortage", Reservation{},
			ReserveCmd{CheckoutID: co, Items: slices.Repeat([]Line{{ProductID: p1, Quantity: acme.MaxAmount}}, 9300), At: at},
			[]any{InventoryUnavailableV1{CheckoutID: co, Items: []Shortage{{ProductID: p1, Requested: math.MaxInt64, Available: 5}}, At: at}}, nil, ""},
		{"a line above the cart's bound", Reservation{}, ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: p1, Quantity: acme.MaxAmount + 1}}}, nil, nil, acme.CodeValidationFailed},
		{"no lines", Reservation{}, ReserveCmd{CheckoutID: co}, nil, nil, acme.CodeValidationFailed},
		{"zero quantity", Reservation{}, ReserveCmd{CheckoutID: co, Items: []Line{{ProductID: p1}}}, nil, nil, acme.CodeValidationFailed},
		{"no checkout id", Reservation{}, ReserveCmd{Items: []Line{{ProductID: p1, Quantity: 1}}}, nil, nil, acme.CodeValidationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecideReserve(tt.res, stock, tt.cmd)
			if code := acme.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q (%v), want %q", code, err, tt.code)
			}
			if !reflect.DeepEqual(d.Reservation, tt.resEv) {
				t.Fatalf("reservation events\n got %#v\nwant %#v", d.Reservation, tt.resEv)
			}
			if len(d.Stock) != len(tt.stock) || (len(tt.stock) > 0 && !reflect.DeepEqual(d.Stock, tt.stock)) {
				t.Fatalf("stock events\n got %#v\nwant %#v", d.Stock, tt.stock)
			}
		})
	}
}

func TestDecideReleaseDeductCommit(t *testing.T) {
	lines := []Line{{ProductID: p1, Quantity: 2}, {ProductID: p2, Quantity: 1}}
	live := Reservation{CheckoutID: co, Status: StatusReserved, Items: lines, ExpiresAt: exp}
	committed := live
	committed.Status = StatusCommitted
	stock := map[string]StockItem{
		StockStreamID(p1, ""): item(p1, 5, map[string]int64{co: 2}),
		StockStreamID(p2, ""): item(p2, 1, map[string]int64{co: 1}),
	}
	released := func(reason string) []any {
		return []any{InventoryReleasedV1{CheckoutID: co, Reason: reason, Items: lines, ReleasedAt: at,
			Levels: []Level{{ProductID: p1, OnHand: 5, Available: 5}, {ProductID: p2, OnHand: 1, Available: 1}}}}
	}
	rel := []struct {
		name string
		res  Reservation
		cmd  ReleaseCmd
		then []any
		code string
	}{
		{"release a live reservation", live, ReleaseCmd{CheckoutID: co, Reason: ReasonCheckoutFailed, At: at}, released(ReasonCheckoutFailed), ""},
		{"expire a live reservation", live, ReleaseCmd{CheckoutID: co, Reason: ReasonExpired, At: at}, released(ReasonExpired), ""},
		{"a committed reservation does not expire", committed, ReleaseCmd{CheckoutID: co, Reason: ReasonExpired, At: at}, nil, ""},
		{"a committed reservation is released by a cancelled order", committed, ReleaseCmd{CheckoutID: co, Reason: ReasonOrderCancelled, At: at}, released(ReasonOrderCancelled), ""},
		{"unknown reservation: no-op", Reservation{}, ReleaseCmd{CheckoutID: co, Reason: ReasonCheckoutFailed}, nil, ""},
		{"released twice: no-op", Reservation{CheckoutID: co, Status: StatusReleased, Items: lines}, ReleaseCmd{CheckoutID: co, Reason: ReasonCheckoutFailed}, nil, ""},
		{"after deduct: no-op", Reservation{CheckoutID: co, Status: StatusDeducted, Items: lines}, ReleaseCmd{CheckoutID: co, Reason: ReasonOrderCancelled}, nil, ""},
		{"refused reservation: no-op", Reservation{CheckoutID: co, Status: StatusUnavailable}, ReleaseCmd{CheckoutID: co, Reason: ReasonCheckoutFailed}, nil, ""},
		{"unknown reason", live, ReleaseCmd{CheckoutID: co, Reason: "BORED"}, nil, acme.CodeValidationFailed},
	}
	for _, tt := range rel {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecideRelease(tt.res, stock, tt.cmd)
			if code := acme.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q (%v), want %q", code, err, tt.code)
			}
			if !reflect.DeepEqual(d.Reservation, tt.then) {
				t.Fatalf("got %#v\nwant %#v", d.Reservation, tt.then)
			}
			if tt.then != nil && len(d.Stock) != 2 {
				t.Fatalf("stock events %#v", d.Stock)
			}
		})
	}

	deducted := []any{InventoryDeductedV1{CheckoutID: co, OrderID: "o1", Items: lines, DeductedAt: at,
		Levels: []Level{{ProductID: p1, OnHand: 3, Available: 3}, {ProductID: p2, OnHand: 0, Available: 0}}}}
	ded := []struct {
		name string
		res  Reservation
		then []any
	}{
		{"deduct a live reservation", live, deducted},
		{"deduct a committed reservation", committed, deducted},
		{"deduct a released reservation: no-op", Reservation{CheckoutID: co, Status: StatusReleased, Items: lines}, nil},
		{"deduct twice: no-op", Reservation{CheckoutID: co, Status: StatusDeducted, Items: lines}, nil},
		{"deduct unknown: no-op", Reservation{}, nil},
	}
	for _, tt := range ded {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecideDeduct(tt.res, stock, DeductCmd{CheckoutID: co, OrderID: "o1", At: at})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Reservation, tt.then) {
				t.Fatalf("got %#v\nwant %#v", d.Reservation, tt.then)
			}
		})
	}

	if got := DecideCommit(live, CommitCmd{CheckoutID: co, OrderID: "o1", At: at}); !reflect.DeepEqual(got,
		[]any{ReservationCommittedV1{CheckoutID: co, OrderID: "o1", CommittedAt: at}}) {
		t.Fatalf("commit live: %#v", got)
	}
	for _, st := range []string{"", StatusCommitted, StatusReleased, StatusDeducted, StatusUnavailable} {
		if got := DecideCommit(Reservation{CheckoutID: co, Status: st}, CommitCmd{CheckoutID: co}); got != nil {
			t.Fatalf("commit %q: %#v", st, got)
		}
	}
}
