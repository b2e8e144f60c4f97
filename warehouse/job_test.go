package warehouse

import (
	"reflect"
	"testing"
	"time"

	"acme"
)

func TestJobDecider(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	lines := []LineItem{{ProductID: "p1", Name: "Tee", Quantity: 2}}
	opened := PickingJobOpenedV1{JobID: "j1", OrderID: "o1", CustomerID: "c1", LineItems: lines, OpenedAt: t0}
	picked := OrderPickedV1{JobID: "j1", OrderID: "o1", PickedAt: t0}
	packed := OrderPackedV1{JobID: "j1", OrderID: "o1", PackedAt: t0}
	cancelled := PickingJobCancelledV1{JobID: "j1", OrderID: "o1", Reason: "r", PreviousStatus: StatusOpen, CancelledAt: t0}
	shipped := PickingJobClosedV1{JobID: "j1", OrderID: "o1", PreviousStatus: StatusOpen, ClosedAt: t0}
	open := Open{JobID: "j1", OrderID: "o1", CustomerID: "c1", LineItems: lines, At: t0}
	tests := []struct {
		name  string
		given []any
		when  any
		then  []any
		code  string
	}{
		{"open", nil, open, []any{opened}, ""},
		{"open twice is a no-op", []any{opened}, open, nil, ""},
		{"open after the order was cancelled is a no-op", []any{PickingJobCancelledV1{JobID: "j1", OrderID: "o1"}}, open, nil, ""},
		{"pick an open job", []any{opened}, Pick{At: t1}, []any{OrderPickedV1{JobID: "j1", OrderID: "o1", PickedAt: t1}}, ""},
		{"pick twice", []any{opened, picked}, Pick{At: t1}, nil, acme.CodeInvalidTransition},
		{"pick a cancelled job", []any{opened, cancelled}, Pick{At: t1}, nil, acme.CodeInvalidTransition},
		{"pick an unknown job", nil, Pick{At: t1}, nil, acme.CodeNotFound},
		{"pack a picked job", []any{opened, picked}, Pack{At: t1}, []any{
			OrderPackedV1{JobID: "j1", OrderID: "o1", PackedAt: t1},
			OrderReadyForShippingV1{JobID: "j1", OrderID: "o1", CustomerID: "c1", At: t1}}, ""},
		{"pack an open job", []any{opened}, Pack{At: t1}, nil, acme.CodeInvalidTransition},
		{"pack twice", []any{opened, picked, packed}, Pack{At: t1}, nil, acme.CodeInvalidTransition},
		{"pack an unknown job", nil, Pack{At: t1}, nil, acme.CodeNotFound},
		{"cancel an open job", []any{opened}, Cancel{JobID: "j1", OrderID: "o1", Reason: "r", At: t1},
			[]any{PickingJobCancelledV1{JobID: "j1", OrderID: "o1", Reason: "r", PreviousStatus: StatusOpen, CancelledAt: t1}}, ""},
		{"cancel a packed job", []any{opened, picked, packed}, Cancel{JobID: "j1", OrderID: "o1", Reason: "r", At: t1},
			[]any{PickingJobCancelledV1{JobID: "j1", OrderID: "o1", Reason: "r", PreviousStatus: StatusPacked, CancelledAt: t1}}, ""},
		{"cancel before open leaves a tombstone", nil, Cancel{JobID: "j1", OrderID: "o1", Reason: "r", At: t1},
			[]any{PickingJobCancelledV1{JobID: "j1", OrderID: "o1", Reason: "r", CancelledAt: t1}}, ""},
		{"cancel twice is a no-op", []any{opened, cancelled}, Cancel{JobID: "j1", OrderID: "o1", At: t1}, nil, ""},
		{"the order ships with its job open", []any{opened}, Close{JobID: "j1", OrderID: "o1", At: t1},
			[]any{PickingJobClosedV1{JobID: "j1", OrderID: "o1", PreviousStatus: StatusOpen, ClosedAt: t1}}, ""},
		{"the order ships picked", []any{opened, picked}, Close{JobID: "j1", OrderID: "o1", At: t1},
			[]any{PickingJobClosedV1{JobID: "j1", OrderID: "o1", PreviousStatus: StatusPicked, ClosedAt: t1}}, ""},
		{"the order ships packed: the job stays PACKED", []any{opened, picked, packed}, Close{JobID: "j1", OrderID: "o1", At: t1}, nil, ""},
		{"OrderShipped twice is a no-op", []any{opened, shipped}, Close{JobID: "j1", OrderID: "o1", At: t1}, nil, ""},
		{"a cancelled job stays cancelled", []any{opened, cancelled}, Close{JobID: "j1", OrderID: "o1", At: t1}, nil, ""},
		{"closed before open leaves a tombstone", nil, Close{JobID: "j1", OrderID: "o1", At: t1},
			[]any{PickingJobClosedV1{JobID: "j1", OrderID: "o1", ClosedAt: t1}}, ""},
		{"open after the order shipped is a no-op", []any{shipped}, open, nil, ""},
		{"pick a shipped job", []any{opened, shipped}, Pick{At: t1}, nil, acme.CodeInvalidTransition},
		{"pack a shipped job", []any{opened, picked, shipped}, Pack{At: t1}, nil, acme.CodeInvalidTransition},
		{"a shipped job stays shipped", []any{opened, shipped}, Cancel{JobID: "j1", OrderID: "o1", Reason: "r", At: t1}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j Job
			for _, e := range tt.given {
				j = evolve(j, e)
			}
			got, err := decide(j, tt.when)
			if code := acme.ErrorCode(err); code != tt.code || (tt.code == "" && err != nil) {
				t.Fatalf("error = %v, want code %q", err, tt.code)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("events\n got %#v\nwant %#v", got, tt.then)
			}
		})
	}
}

func TestJobIDIsOnePerOrder(t *testing.T) {
	a, b := JobID("0190a000-0000-7000-8000-000000000001"), JobID("0190a000-0000-7000-8000-000000000002")
	if a == b || a != JobID("0190a000-0000-7000-8000-000000000001") || !acme.ValidID(a) {
		t.Fatalf("job ids %s %s", a, b)
	}
}
