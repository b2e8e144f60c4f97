package ordering

import (
	"time"

	"acme"
	"acme/es"
)

const owner = "ordering"

// CreateOrderV1 (command, from checkout): persist the order of a checkout whose
// stock is reserved and payment authorized. Idempotent by orderId.
type CreateOrderV1 struct {
	OrderID                string     `json:"orderId"`
	CheckoutID             string     `json:"checkoutId"`
	CustomerID             string     `json:"customerId"`
	LineItems              []LineItem `json:"lineItems"`
	Subtotal               acme.Money `json:"subtotal"`
	Discount               acme.Money `json:"discount"`
	TotalAmount            acme.Money `json:"totalAmount"`
	ShippingAddress        Address    `json:"shippingAddress"`
	PaymentID              string     `json:"paymentId"`
	PaymentAuthorizationID string     `json:"paymentAuthorizationId,omitempty"` // additive: the processor's authorization
}

// ConfirmOrderV1 (command, from checkout after the capture).
type ConfirmOrderV1 struct {
	OrderID string `json:"orderId"`
}

// CancelOrderV1 (command, from checkout when a step after CreateOrder failed; the
// HTTP cancel uses the same rule). Cancelling an order that cannot be cancelled
// any more is a no-op for this command.
type CancelOrderV1 struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason"` // CUSTOMER_REQUESTED | PAYMENT_FAILED | OUT_OF_STOCK | FRAUD | free text
}

// OrderCreatedV1 (alias OrderPlaced): the order exists, PENDING.
type OrderCreatedV1 struct {
	OrderID                string     `json:"orderId"`
	CheckoutID             string     `json:"checkoutId"`
	CustomerID             string     `json:"customerId"`
	LineItems              []LineItem `json:"lineItems"`
	Subtotal               acme.Money `json:"subtotal"`
	Discount               acme.Money `json:"discount"`
	TotalAmount            acme.Money `json:"totalAmount"`
	ShippingAddress        Address    `json:"shippingAddress"`
	PaymentID              string     `json:"paymentId"`
	PaymentAuthorizationID string     `json:"paymentAuthorizationId"`
	Status                 string     `json:"status"`
	PlacedAt               time.Time  `json:"placedAt"`
}

// OrderConfirmedV1: the payment is captured; fulfilment may start.
type OrderConfirmedV1 struct {
	OrderID     string     `json:"orderId"`
	CheckoutID  string     `json:"checkoutId"`
	CustomerID  string     `json:"customerId"`
	LineItems   []LineItem `json:"lineItems"`
	ConfirmedAt time.Time  `json:"confirmedAt"`
}

// OrderShippedV1: handed to a carrier; the reserved stock is deducted.
type OrderShippedV1 struct {
	OrderID        string    `json:"orderId"`
	CheckoutID     string    `json:"checkoutId"`
	CustomerID     string    `json:"customerId"`
	TrackingNumber string    `json:"trackingNumber"`
	Carrier        string    `json:"carrier"`
	ShippedAt      time.Time `json:"shippedAt"`
}

// OrderDeliveredV1: the customer has the parcel.
type OrderDeliveredV1 struct {
	OrderID     string    `json:"orderId"`
	CustomerID  string    `json:"customerId"`
	ProductIDs  []string  `json:"productIds"`
	DeliveredAt time.Time `json:"deliveredAt"`
}

// OrderCancelledV1: cancelled from PENDING or CONFIRMED; stock released, payment
// voided (or refunded in full when it was captured).
type OrderCancelledV1 struct {
	OrderID         string    `json:"orderId"`
	CheckoutID      string    `json:"checkoutId"`
	CustomerID      string    `json:"customerId"`
	Reason          string    `json:"reason"`
	PreviousStatus  string    `json:"previousStatus"`
	PaymentCaptured bool      `json:"paymentCaptured"`
	CancelledAt     time.Time `json:"cancelledAt"`
}

// OrderCompletedV1: the order is fulfilled (published on delivery).
type OrderCompletedV1 struct {
	OrderID     string    `json:"orderId"`
	CustomerID  string    `json:"customerId"`
	CompletedAt time.Time `json:"completedAt"`
}

// OrderStatusChangedV1: every status transition.
type OrderStatusChangedV1 struct {
	OrderID string    `json:"orderId"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	At      time.Time `json:"at"`
}

// OrderPaymentCapturedV1 (internal): ordering learnt that the payment is
// captured (so a cancellation refunds): from the saga's ConfirmOrder (sent
// once the capture succeeded) or payments' PaymentSucceeded, whichever comes
// first.
type OrderPaymentCapturedV1 struct {
	OrderID    string    `json:"orderId"`
	PaymentID  string    `json:"paymentId"`
	CapturedAt time.Time `json:"capturedAt"`
}

// OrderPaymentRefundedV1 (internal): payments refunded the order's payment.
type OrderPaymentRefundedV1 struct {
	OrderID    string    `json:"orderId"`
	PaymentID  string    `json:"paymentId"`
	RefundedAt time.Time `json:"refundedAt"`
}

// OrderReadyForShippingRecordedV1 (internal): the warehouse packed the order.
type OrderReadyForShippingRecordedV1 struct {
	OrderID string    `json:"orderId"`
	JobID   string    `json:"jobId"`
	At      time.Time `json:"at"`
}

// ShipOrderV1 and DeliverOrderV1 are the admin's commands (HTTP: ship and
// deliver routes), declared for the catalog.
type (
	ShipOrderV1 struct {
		OrderID        string `json:"orderId"`
		TrackingNumber string `json:"trackingNumber"`
		Carrier        string `json:"carrier"`
	}
	DeliverOrderV1 struct {
		OrderID        string `json:"orderId"`
		TrackingNumber string `json:"trackingNumber"`
	}
)

// GetOrderV1 is the Get Order query (GET /api/v1/orders/{id}, with asOf or version).
type GetOrderV1 struct {
	OrderID string `json:"orderId"`
	AsOf    string `json:"asOf,omitempty"`
	Version int64  `json:"version,omitempty"`
}

// ListOrdersV1 is the List Orders query (GET /api/v1/orders): the caller's
// orders, or an admin's choice.
type ListOrdersV1 struct {
	CustomerID string `json:"customerId,omitempty"`
	Status     string `json:"status,omitempty"`
	Page       int    `json:"page,omitempty"`
	PageSize   int    `json:"pageSize,omitempty"`
}

// GetOrderHistoryV1 is the Get Order History query (GET /api/v1/orders/{id}/history).
type GetOrderHistoryV1 struct {
	OrderID string `json:"orderId"`
}

// Declared messages of the ordering context.
var (
	GetOrder = es.Define[GetOrderV1](es.MessageSpec{Name: "GetOrder", Kind: es.KindQuery, Owner: owner,
		Producers: []string{"storefront", "admin"}, Consumers: []string{owner},
		Summary: "An order by id, as it is now or as it was at a time or version (temporal query)."})
	ListOrders = es.Define[ListOrdersV1](es.MessageSpec{Name: "ListOrders", Kind: es.KindQuery, Owner: owner,
		Producers: []string{"storefront", "admin"}, Consumers: []string{owner},
		Summary: "The caller's orders, newest first (an admin's: all, or by customer and status)."})
	GetOrderHistory = es.Define[GetOrderHistoryV1](es.MessageSpec{Name: "GetOrderHistory", Kind: es.KindQuery, Owner: owner,
		Producers: []string{"storefront", "admin"}, Consumers: []string{owner},
		Summary: "Every event of an order, oldest first, with the status after it."})
	ShipOrder = es.Define[ShipOrderV1](es.MessageSpec{Name: "ShipOrder", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"admin"}, Consumers: []string{owner}, Summary: "Hand a confirmed order to a carrier (deducts the reserved stock)."})
	DeliverOrder = es.Define[DeliverOrderV1](es.MessageSpec{Name: "DeliverOrder", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"admin"}, Consumers: []string{owner}, Summary: "Record delivery of a shipped order (the tracking number must match)."})
	CreateOrder = es.Define[CreateOrderV1](es.MessageSpec{Name: "CreateOrder", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"checkout"}, Consumers: []string{owner}, Aliases: []string{"PlaceOrder"},
		Summary: "Persist the order of a checkout (stock reserved, payment authorized)."})
	ConfirmOrder = es.Define[ConfirmOrderV1](es.MessageSpec{Name: "ConfirmOrder", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"checkout"}, Consumers: []string{owner}, Summary: "Confirm an order once its payment is captured."})
	CancelOrder = es.Define[CancelOrderV1](es.MessageSpec{Name: "CancelOrder", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"checkout"}, Consumers: []string{owner}, Summary: "Cancel an order (a checkout step after CreateOrder failed)."})
	OrderCreated = es.Define[OrderCreatedV1](es.MessageSpec{Name: "OrderCreated", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"checkout", "notifications", "reviews"}, Aliases: []string{"OrderPlaced"},
		Summary: "An order was placed (PENDING)."})
	OrderConfirmed = es.Define[OrderConfirmedV1](es.MessageSpec{Name: "OrderConfirmed", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"checkout", "inventory", "warehouse", "notifications"},
		Summary: "An order's payment is captured; fulfilment starts."})
	OrderShipped = es.Define[OrderShippedV1](es.MessageSpec{Name: "OrderShipped", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"notifications", "warehouse"}, Summary: "An order was handed to a carrier."})
	OrderDelivered = es.Define[OrderDeliveredV1](es.MessageSpec{Name: "OrderDelivered", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"notifications", "reviews"}, Summary: "An order was delivered."})
	OrderCancelled = es.Define[OrderCancelledV1](es.MessageSpec{Name: "OrderCancelled", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"checkout", "notifications", "warehouse"}, Summary: "An order was cancelled."})
	OrderCompleted = es.Define[OrderCompletedV1](es.MessageSpec{Name: "OrderCompleted", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "An order was fulfilled (delivered)."})
	OrderStatusChanged = es.Define[OrderStatusChangedV1](es.MessageSpec{Name: "OrderStatusChanged", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "An order moved from one status to another."})
	OrderPaymentCaptured = es.Define[OrderPaymentCapturedV1](es.MessageSpec{Name: "OrderPaymentCaptured", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "Ordering recorded that the order's payment was captured (internal).", Internal: true})
	OrderPaymentRefunded = es.Define[OrderPaymentRefundedV1](es.MessageSpec{Name: "OrderPaymentRefunded", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "Ordering recorded that the order's payment was refunded (internal).", Internal: true})
	OrderReadyForShippingRecorded = es.Define[OrderReadyForShippingRecordedV1](es.MessageSpec{Name: "OrderReadyForShippingRecorded", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "Ordering recorded that the warehouse packed the order (internal).", Internal: true})
)

// messages lists every message ordering declares.
func messages() []es.MessageType {
	return []es.MessageType{GetOrder, ListOrders, GetOrderHistory, CreateOrder, ConfirmOrder, CancelOrder, ShipOrder, DeliverOrder, OrderCreated, OrderConfirmed, OrderShipped,
		OrderDelivered, OrderCancelled, OrderCompleted, OrderStatusChanged, OrderPaymentCaptured,
		OrderPaymentRefunded, OrderReadyForShippingRecorded}
}
