package warehouse

import (
	"time"

	"acme/es"
)

const owner = "warehouse"

// PickingJobOpenedV1: a confirmed order's picking job is open.
type PickingJobOpenedV1 struct {
	JobID      string     `json:"jobId"`
	OrderID    string     `json:"orderId"`
	CustomerID string     `json:"customerId"`
	LineItems  []LineItem `json:"lineItems"`
	OpenedAt   time.Time  `json:"openedAt"`
}

// OrderPickedV1: the order's items were picked (PickOrder).
type OrderPickedV1 struct {
	JobID    string    `json:"jobId"`
	OrderID  string    `json:"orderId"`
	PickedAt time.Time `json:"pickedAt"`
}

// OrderPackedV1: the order's parcel is packed (PackOrder).
type OrderPackedV1 struct {
	JobID    string    `json:"jobId"`
	OrderID  string    `json:"orderId"`
	PackedAt time.Time `json:"packedAt"`
}

// OrderReadyForShippingV1: the order can be handed to a carrier.
type OrderReadyForShippingV1 struct {
	JobID      string    `json:"jobId"`
	OrderID    string    `json:"orderId"`
	CustomerID string    `json:"customerId,omitempty"`
	At         time.Time `json:"at"`
}

// PickingJobCancelledV1: the order was cancelled; the job stops.
type PickingJobCancelledV1 struct {
	JobID          string    `json:"jobId"`
	OrderID        string    `json:"orderId"`
	Reason         string    `json:"reason"`
	PreviousStatus string    `json:"previousStatus"` // "" when cancelled before it was opened
	CancelledAt    time.Time `json:"cancelledAt"`
}

// PickingJobClosedV1: the order was shipped before its job was packed (an
// order may be shipped without the warehouse's steps): nothing is left to do.
type PickingJobClosedV1 struct {
	JobID          string    `json:"jobId"`
	OrderID        string    `json:"orderId"`
	PreviousStatus string    `json:"previousStatus"` // "" when closed before it was opened
	ClosedAt       time.Time `json:"closedAt"`
}

// PickOrderV1 is the PickOrder command (POST /api/v1/warehouse/picking-jobs/{id}/pick).
type PickOrderV1 struct {
	JobID string `json:"jobId"`
}

// PackOrderV1 is the PackOrder command (POST /api/v1/warehouse/picking-jobs/{id}/pack).
type PackOrderV1 struct {
	JobID string `json:"jobId"`
}

// ListPickingJobsV1 is the List Picking Jobs query (GET /api/v1/warehouse/picking-jobs).
type ListPickingJobsV1 struct {
	Status   string `json:"status,omitempty"`
	OrderID  string `json:"orderId,omitempty"`
	Page     int    `json:"page,omitempty"`
	PageSize int    `json:"pageSize,omitempty"`
}

// Declared messages of the warehouse context.
var (
	PickingJobOpened = es.Define[PickingJobOpenedV1](es.MessageSpec{Name: "PickingJobOpened", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "A picking job was opened for a confirmed order."})
	OrderPicked = es.Define[OrderPickedV1](es.MessageSpec{Name: "OrderPicked", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "A picking job's items were picked (PickOrder)."})
	OrderPacked = es.Define[OrderPackedV1](es.MessageSpec{Name: "OrderPacked", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "An order's parcel was packed (PackOrder)."})
	OrderReadyForShipping = es.Define[OrderReadyForShippingV1](es.MessageSpec{Name: "OrderReadyForShipping", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"ordering"}, Summary: "An order is packed and ready for shipping."})
	PickingJobCancelled = es.Define[PickingJobCancelledV1](es.MessageSpec{Name: "PickingJobCancelled", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "A picking job was cancelled with its order."})
	PickOrder = es.Define[PickOrderV1](es.MessageSpec{Name: "PickOrder", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"admin"}, Consumers: []string{owner}, Summary: "Mark an OPEN picking job's items picked → OrderPicked."})
	PackOrder = es.Define[PackOrderV1](es.MessageSpec{Name: "PackOrder", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"admin"}, Consumers: []string{owner}, Summary: "Mark a PICKED job packed → OrderPacked and OrderReadyForShipping."})
	ListPickingJobs = es.Define[ListPickingJobsV1](es.MessageSpec{Name: "ListPickingJobs", Kind: es.KindQuery, Owner: owner,
		Producers: []string{"admin"}, Consumers: []string{owner}, Summary: "Picking jobs, newest first, by status or order."})
	PickingJobClosed = es.Define[PickingJobClosedV1](es.MessageSpec{Name: "PickingJobClosed", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "A picking job not yet packed was closed because its order shipped (SHIPPED)."})
)

func messages() []es.MessageType {
	return []es.MessageType{PickingJobOpened, OrderPicked, OrderPacked, OrderReadyForShipping, PickingJobCancelled, PickingJobClosed,
		PickOrder, PackOrder, ListPickingJobs}
}
