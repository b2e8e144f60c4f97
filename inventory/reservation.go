package inventory

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"acme"
)

// Reservation statuses.
const (
	StatusReserved    = "RESERVED"
	StatusCommitted   = "COMMITTED" // the order was confirmed: no longer expires
	StatusReleased    = "RELEASED"
	StatusDeducted    = "DEDUCTED"
	StatusUnavailable = "UNAVAILABLE"
)

// Release reasons.
const (
	ReasonCheckoutFailed = "CHECKOUT_FAILED"
	ReasonOrderCancelled = "ORDER_CANCELLED"
	ReasonExpired        = "EXPIRED"
)

// Reservation is the state of one checkout's reservation (stream
// "reservation-<checkoutId>"): which stock items it holds, and whether it is
// still live. A reservation is decided together with the stock items it
// touches (see DecideReserve), and committed in one atomic Commit.
type Reservation struct {
	CheckoutID string `json:"checkoutId"`
	Status     string `json:"status"` // "" = none yet
	Items      []Line `json:"items"`
	ExpiresAt  string `json:"expiresAt"`
}

// ReservationStreamID is the stream of a checkout's reservation.
func ReservationStreamID(checkoutID string) string { return "reservation-" + checkoutID }

func evolveReservation(r Reservation, event any) Reservation {
	switch e := event.(type) {
	case InventoryReservedV1:
		r.CheckoutID, r.Status, r.Items, r.ExpiresAt = e.CheckoutID, StatusReserved, e.Items, e.ExpiresAt
	case InventoryUnavailableV1:
		r.CheckoutID, r.Status = e.CheckoutID, StatusUnavailable
	case ReservationCommittedV1:
		r.Status = StatusCommitted
	case InventoryReleasedV1:
		r.Status = StatusReleased
	case InventoryDeductedV1:
		r.Status = StatusDeducted
	}
	return r
}

// ReserveCmd asks to hold every line for a checkout.
type ReserveCmd struct {
	CheckoutID string
	Items      []Line
	ExpiresAt  string
	At         string
}

// Decision is the outcome of a reservation-level command: the events of the
// reservation stream and, per stock stream id, the events of that stock item.
// The caller appends them all in one Commit with the versions it loaded.
type Decision struct {
	Reservation []any
	Stock       map[string][]any
}

// key identifies a stock item.
type key struct{ ProductID, VariantID string }

// NormalizeLines merges lines of the same stock item and sorts them (a
// deterministic order: the same input always produces the same appends).
func NormalizeLines(lines []Line) []Line {
	sum := map[key]int64{}
	for _, l := range lines {
		k := key{l.ProductID, l.VariantID}
		sum[k] = min(sum[k], math.MaxInt64-l.Quantity) + l.Quantity // saturates: more than exists is a shortage
	}
	out := make([]Line, 0, len(sum))
	for k, q := range sum {
		out = append(out, Line{ProductID: k.ProductID, VariantID: k.VariantID, Quantity: q})
	}
	slices.SortFunc(out, func(a, b Line) int {
		return cmp.Or(cmp.Compare(a.ProductID, b.ProductID), cmp.Compare(a.VariantID, b.VariantID))
	})
	return out
}

// ValidateReserve checks a reserve command's shape.
func ValidateReserve(cmd ReserveCmd) error {
	var fields []acme.FieldError
	if cmd.CheckoutID == "" || len(cmd.CheckoutID) > 100 {
		fields = append(fields, acme.FieldError{Field: "checkoutId", Message: "is required (at most 100 characters)"})
	}
	if len(cmd.Items) == 0 {
		fields = append(fields, acme.FieldError{Field: "items", Message: "at least one line is required"})
	}
	for _, l := range cmd.Items {
		if l.ProductID == "" || len(l.ProductID) > 100 || len(l.VariantID) > 100 {
			fields = append(fields, acme.FieldError{Field: "items.productId", Message: "is required (at most 100 characters)"})
			break
		}
		// The upper bound is the cart's (a subtotal of at most MaxAmount minor
		// units): a line may ask for more than one restock brings, and more
		// than is available is a shortage, not a malformed command.
		if l.Quantity < 1 || l.Quantity > acme.MaxAmount {
			fields = append(fields, acme.FieldError{Field: "items.quantity", Message: fmt.Sprintf("must be from 1 to %d", int64(acme.MaxAmount))})
			break
		}
	}
	if len(fields) > 0 {
		return acme.Invalid(fields...)
	}
	return nil
}

// DecideReserve decides a reservation over the current states of its stock
// items (stock, by stream id; a missing item has nothing on hand). All or none:
// when any line lacks units the only event is InventoryUnavailable and no item
// changes. A reservation that already exists (whatever its status) is not
// decided again: repeating ReserveInventory for a checkout changes nothing.
func DecideReserve(r Reservation, stock map[string]StockItem, cmd ReserveCmd) (Decision, error) {
	if err := ValidateReserve(cmd); err != nil {
		return Decision{}, err
	}
	if r.Status != "" {
		return Decision{}, nil
	}
	lines := NormalizeLines(cmd.Items)
	var short []Shortage
	for _, l := range lines {
		s := stock[StockStreamID(l.ProductID, l.VariantID)]
		if s.Available() < l.Quantity {
			short = append(short, Shortage{ProductID: l.ProductID, VariantID: l.VariantID, Requested: l.Quantity, Available: max(s.Available(), 0)})
		}
	}
	if len(short) > 0 {
		return Decision{Reservation: []any{InventoryUnavailableV1{CheckoutID: cmd.CheckoutID, Items: short, At: cmd.At}}}, nil
	}
	d := Decision{Stock: map[string][]any{}}
	levels := make([]Level, 0, len(lines))
	for _, l := range lines {
		id := StockStreamID(l.ProductID, l.VariantID)
		s := stock[id]
		evs, err := decideStock(s, Hold{CheckoutID: cmd.CheckoutID, ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity, At: cmd.At})
		if err != nil {
			return Decision{}, err // cannot happen: availability was checked above
		}
		for _, e := range evs {
			s = evolveStock(s, e)
		}
		d.Stock[id] = evs
		levels = append(levels, s.Level())
	}
	d.Reservation = []any{InventoryReservedV1{CheckoutID: cmd.CheckoutID, Items: lines, Levels: levels, ReservedAt: cmd.At, ExpiresAt: cmd.ExpiresAt}}
	return d, nil
}

// ReleaseCmd gives a reservation's units back.
type ReleaseCmd struct {
	CheckoutID, Reason, At string
}

// DecideRelease releases a live reservation. Unknown, released, deducted or
// refused reservations: no-op. A committed reservation (its order confirmed)
// does not expire: EXPIRED is a no-op for it, other reasons release it.
func DecideRelease(r Reservation, stock map[string]StockItem, cmd ReleaseCmd) (Decision, error) {
	switch cmd.Reason {
	case ReasonCheckoutFailed, ReasonOrderCancelled, ReasonExpired:
	default:
		return Decision{}, acme.Invalid(acme.FieldError{Field: "reason", Message: "must be CHECKOUT_FAILED, ORDER_CANCELLED or EXPIRED"})
	}
	if r.Status != StatusReserved && !(r.Status == StatusCommitted && cmd.Reason != ReasonExpired) {
		return Decision{}, nil
	}
	d := Decision{Stock: map[string][]any{}}
	levels := make([]Level, 0, len(r.Items))
	for _, l := range r.Items {
		id := StockStreamID(l.ProductID, l.VariantID)
		s := stock[id]
		evs, err := decideStock(s, Unhold{CheckoutID: r.CheckoutID, Reason: cmd.Reason, At: cmd.At})
		if err != nil {
			return Decision{}, err
		}
		for _, e := range evs {
			s = evolveStock(s, e)
		}
		if len(evs) > 0 {
			d.Stock[id] = evs
		}
		levels = append(levels, s.Level())
	}
	d.Reservation = []any{InventoryReleasedV1{CheckoutID: r.CheckoutID, Reason: cmd.Reason, Items: r.Items, Levels: levels, ReleasedAt: cmd.At}}
	return d, nil
}

// DeductCmd ships a reservation's units.
type DeductCmd struct {
	CheckoutID, OrderID, At string
}

// DecideDeduct turns a live reservation's held units into shipped ones
// (onHand and reserved both drop). Anything but a live reservation: no-op.
func DecideDeduct(r Reservation, stock map[string]StockItem, cmd DeductCmd) (Decision, error) {
	if r.Status != StatusReserved && r.Status != StatusCommitted {
		return Decision{}, nil
	}
	d := Decision{Stock: map[string][]any{}}
	levels := make([]Level, 0, len(r.Items))
	for _, l := range r.Items {
		id := StockStreamID(l.ProductID, l.VariantID)
		s := stock[id]
		evs, err := decideStock(s, DeductHold{CheckoutID: r.CheckoutID, OrderID: cmd.OrderID, At: cmd.At})
		if err != nil {
			return Decision{}, err
		}
		for _, e := range evs {
			s = evolveStock(s, e)
		}
		if len(evs) > 0 {
			d.Stock[id] = evs
		}
		levels = append(levels, s.Level())
	}
	d.Reservation = []any{InventoryDeductedV1{CheckoutID: r.CheckoutID, OrderID: cmd.OrderID, Items: r.Items, Levels: levels, DeductedAt: cmd.At}}
	return d, nil
}

// CommitCmd marks a reservation committed (its order was confirmed).
type CommitCmd struct {
	CheckoutID, OrderID, At string
}

// DecideCommit: only a live, uncommitted reservation changes.
func DecideCommit(r Reservation, cmd CommitCmd) []any {
	if r.Status != StatusReserved {
		return nil
	}
	return []any{ReservationCommittedV1{CheckoutID: r.CheckoutID, OrderID: cmd.OrderID, CommittedAt: cmd.At}}
}
