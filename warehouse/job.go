package warehouse

import (
	"time"

	"acme"
	"acme/es"
)

// Picking job statuses.
const (
	StatusOpen      = "OPEN"
	StatusPicked    = "PICKED"
	StatusPacked    = "PACKED"
	StatusCancelled = "CANCELLED"
	// StatusShipped: the order was shipped before the job was packed (an
	// admin may ship a confirmed order without the warehouse's steps): nothing
	// is left to pick or pack. A packed job stays PACKED when its order ships.
	StatusShipped = "SHIPPED"
)

// LineItem is one line to pick.
type LineItem struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
}

// Job is the state of one picking job stream ("picking-job-<jobId>").
type Job struct {
	JobID      string     `json:"jobId"`
	OrderID    string     `json:"orderId"`
	CustomerID string     `json:"customerId"`
	Status     string     `json:"status"` // "" = no such job
	LineItems  []LineItem `json:"lineItems"`
	OpenedAt   time.Time  `json:"openedAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
}

// Commands of the picking job. Times and ids are given: the decider is pure.
type (
	// Open opens the job of a confirmed order. Idempotent (one job per order).
	Open struct {
		JobID, OrderID, CustomerID string
		LineItems                  []LineItem
		At                         time.Time
	}
	// Pick marks the items picked (OPEN → PICKED).
	Pick struct{ At time.Time }
	// Pack marks the parcel packed (PICKED → PACKED): the order is ready for shipping.
	Pack struct{ At time.Time }
	// Cancel cancels the job with its order. A job cancelled before it was
	// opened stays cancelled: a late OrderConfirmed opens nothing.
	Cancel struct {
		JobID, OrderID, Reason string
		At                     time.Time
	}
	// Close closes the job of a shipped order that was not packed yet. A job
	// closed before it was opened stays closed: a late OrderConfirmed opens
	// nothing.
	Close struct {
		JobID, OrderID string
		At             time.Time
	}
)

// Decider is the picking job aggregate: pure decide and evolve.
var Decider = es.Decider[Job, any]{Decide: decide, Evolve: evolve}

func invalidTransition(j Job, to string) error {
	return acme.Errorf(acme.CodeInvalidTransition, "picking job %s is %s and cannot become %s", j.JobID, j.Status, to)
}

func decide(j Job, cmd any) ([]any, error) {
	switch c := cmd.(type) {
	case Open:
		if j.Status != "" {
			return nil, nil // OrderConfirmed delivered twice, or the order was cancelled first
		}
		return []any{PickingJobOpenedV1{JobID: c.JobID, OrderID: c.OrderID, CustomerID: c.CustomerID, LineItems: c.LineItems, OpenedAt: c.At}}, nil
	case Pick:
		if j.Status == "" {
			return nil, acme.Errorf(acme.CodeNotFound, "picking job not found")
		}
		if j.Status != StatusOpen {
			return nil, invalidTransition(j, StatusPicked)
		}
		return []any{OrderPickedV1{JobID: j.JobID, OrderID: j.OrderID, PickedAt: c.At}}, nil
	case Pack:
		if j.Status == "" {
			return nil, acme.Errorf(acme.CodeNotFound, "picking job not found")
		}
		if j.Status != StatusPicked {
			return nil, invalidTransition(j, StatusPacked)
		}
		return []any{
			OrderPackedV1{JobID: j.JobID, OrderID: j.OrderID, PackedAt: c.At},
			OrderReadyForShippingV1{JobID: j.JobID, OrderID: j.OrderID, CustomerID: j.CustomerID, At: c.At},
		}, nil
	case Cancel:
		if j.Status == StatusCancelled || j.Status == StatusShipped {
			return nil, nil // a shipped order cannot be cancelled: SHIPPED is final too
		}
		return []any{PickingJobCancelledV1{JobID: c.JobID, OrderID: c.OrderID, Reason: c.Reason, PreviousStatus: j.Status, CancelledAt: c.At}}, nil
	case Close:
		switch j.Status {
		case StatusOpen, StatusPicked, "":
			return []any{PickingJobClosedV1{JobID: c.JobID, OrderID: c.OrderID, PreviousStatus: j.Status, ClosedAt: c.At}}, nil
		}
		// PACKED: the warehouse's part is done and the job stays as the
		// contract shows it; SHIPPED: OrderShipped delivered twice;
		// CANCELLED: a cancelled order does not ship.
		return nil, nil
	}
	return nil, acme.Errorf(acme.CodeInternal, "warehouse: unknown command %T", cmd)
}

func evolve(j Job, e any) Job {
	switch e := e.(type) {
	case PickingJobOpenedV1:
		j = Job{JobID: e.JobID, OrderID: e.OrderID, CustomerID: e.CustomerID, Status: StatusOpen,
			LineItems: e.LineItems, OpenedAt: e.OpenedAt, UpdatedAt: e.OpenedAt}
	case OrderPickedV1:
		j.Status, j.UpdatedAt = StatusPicked, e.PickedAt
	case OrderPackedV1:
		j.Status, j.UpdatedAt = StatusPacked, e.PackedAt
	case PickingJobCancelledV1:
		if j.JobID == "" {
			j.JobID, j.OrderID, j.OpenedAt = e.JobID, e.OrderID, e.CancelledAt
		}
		j.Status, j.UpdatedAt = StatusCancelled, e.CancelledAt
	case PickingJobClosedV1:
		if j.JobID == "" {
			j.JobID, j.OrderID, j.OpenedAt = e.JobID, e.OrderID, e.ClosedAt
		}
		j.Status, j.UpdatedAt = StatusShipped, e.ClosedAt
	}
	return j
}
