package ordering

import (
	"time"

	"acme"
	"acme/es"
)

// Order statuses (the contract's state machine).
const (
	StatusPending   = "PENDING"
	StatusConfirmed = "CONFIRMED"
	StatusShipped   = "SHIPPED"
	StatusDelivered = "DELIVERED"
	StatusCancelled = "CANCELLED"
)

// validStatus reports whether s is one of the order statuses.
func validStatus(s string) bool {
	switch s {
	case StatusPending, StatusConfirmed, StatusShipped, StatusDelivered, StatusCancelled:
		return true
	}
	return false
}

// LineItem is one line of an order, frozen at checkout.
type LineItem struct {
	ProductID string     `json:"productId"`
	VariantID string     `json:"variantId"`
	Name      string     `json:"name"`
	Quantity  int64      `json:"quantity"`
	UnitPrice acme.Money `json:"unitPrice"`
	LineTotal acme.Money `json:"lineTotal"`
}

// Address is the shipping address given at checkout.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Order is the state of one order stream ("order-<orderId>").
type Order struct {
	OrderID                string     `json:"orderId"`
	CheckoutID             string     `json:"checkoutId"`
	CustomerID             string     `json:"customerId"`
	Status                 string     `json:"status"` // "" = no such order
	LineItems              []LineItem `json:"lineItems"`
	Subtotal               acme.Money `json:"subtotal"`
	Discount               acme.Money `json:"discount"`
	TotalAmount            acme.Money `json:"totalAmount"`
	ShippingAddress        Address    `json:"shippingAddress"`
	PaymentID              string     `json:"paymentId"`
	PaymentAuthorizationID string     `json:"paymentAuthorizationId"`
	Captured               bool       `json:"captured"`
	Refunded               bool       `json:"refunded"`
	TrackingNumber         string     `json:"trackingNumber,omitempty"`
	Carrier                string     `json:"carrier,omitempty"`
	ReadyForShipping       bool       `json:"readyForShipping,omitempty"`
	CancelReason           string     `json:"cancelReason,omitempty"`
	PlacedAt               time.Time  `json:"placedAt"`
	UpdatedAt              time.Time  `json:"updatedAt"`
}

// Commands of the order aggregate. Times and ids are given: the decider is pure.
type (
	// Create places the order (from checkout's CreateOrder). Idempotent by orderId.
	Create struct {
		OrderID                string
		CheckoutID             string
		CustomerID             string
		LineItems              []LineItem
		Subtotal               acme.Money
		Discount               acme.Money
		TotalAmount            acme.Money
		ShippingAddress        Address
		PaymentID              string
		PaymentAuthorizationID string
		At                     time.Time
	}
	// Confirm marks the order confirmed (payment captured). Idempotent.
	Confirm struct{ At time.Time }
	// Ship hands the order to a carrier.
	Ship struct {
		TrackingNumber, Carrier string
		At                      time.Time
	}
	// Deliver records the delivery; the tracking number must match.
	Deliver struct {
		TrackingNumber string
		At             time.Time
	}
	// Cancel cancels a PENDING or CONFIRMED order. IfPossible makes an
	// impossible cancellation a no-op instead of an error (the saga's CancelOrder).
	Cancel struct {
		Reason     string
		At         time.Time
		IfPossible bool
	}
	// RecordCapture records that payments captured the order's payment.
	RecordCapture struct {
		PaymentID string
		At        time.Time
	}
	// RecordRefund records that payments refunded the order's payment.
	RecordRefund struct {
		PaymentID string
		At        time.Time
	}
	// RecordReadyForShipping records that the warehouse packed the order.
	RecordReadyForShipping struct {
		JobID string
		At    time.Time
	}
)

// Decider is the order aggregate: pure decide and evolve.
var Decider = es.Decider[Order, any]{Decide: decide, Evolve: evolve}

func invalidTransition(o Order, to string) error {
	return acme.Errorf(acme.CodeInvalidTransition, "order %s is %s and cannot become %s", o.OrderID, o.Status, to)
}

func notFound() error { return acme.Errorf(acme.CodeNotFound, "order not found") }

func statusChanged(o Order, to string, at time.Time) OrderStatusChangedV1 {
	return OrderStatusChangedV1{OrderID: o.OrderID, From: o.Status, To: to, At: at}
}

func decide(o Order, cmd any) ([]any, error) {
	switch c := cmd.(type) {
	case Create:
		if o.Status != "" {
			return nil, nil // CreateOrder is idempotent by orderId
		}
		return []any{OrderCreatedV1{
			OrderID: c.OrderID, CheckoutID: c.CheckoutID, CustomerID: c.CustomerID,
			LineItems: c.LineItems, Subtotal: c.Subtotal, Discount: c.Discount, TotalAmount: c.TotalAmount,
			ShippingAddress: c.ShippingAddress, PaymentID: c.PaymentID,
			PaymentAuthorizationID: c.PaymentAuthorizationID, Status: StatusPending, PlacedAt: c.At,
		}}, nil

	case Confirm:
		switch o.Status {
		case "":
			return nil, notFound()
		case StatusPending:
			var out []any
			if o.PaymentID != "" && !o.Captured {
				// ConfirmOrder is sent once the payment is captured: record it
				// now rather than when PaymentSucceeded reaches ordering, so a
				// confirmed order always knows (a cancellation refunds) and
				// its versions do not depend on which message came first
				out = append(out, OrderPaymentCapturedV1{OrderID: o.OrderID, PaymentID: o.PaymentID, CapturedAt: c.At})
			}
			return append(out,
				OrderConfirmedV1{OrderID: o.OrderID, CheckoutID: o.CheckoutID, CustomerID: o.CustomerID, LineItems: o.LineItems, ConfirmedAt: c.At},
				statusChanged(o, StatusConfirmed, c.At),
			), nil
		case StatusConfirmed, StatusShipped, StatusDelivered:
			return nil, nil // already confirmed: a repeated ConfirmOrder changes nothing
		}
		return nil, invalidTransition(o, StatusConfirmed)

	case Ship:
		switch o.Status {
		case "":
			return nil, notFound()
		case StatusConfirmed:
			return []any{
				OrderShippedV1{OrderID: o.OrderID, CheckoutID: o.CheckoutID, CustomerID: o.CustomerID,
					TrackingNumber: c.TrackingNumber, Carrier: c.Carrier, ShippedAt: c.At},
				statusChanged(o, StatusShipped, c.At),
			}, nil
		}
		return nil, invalidTransition(o, StatusShipped)

	case Deliver:
		switch o.Status {
		case "":
			return nil, notFound()
		case StatusShipped:
			if c.TrackingNumber != o.TrackingNumber {
				return nil, acme.Errorf("tracking_mismatch", "the tracking number does not match the shipment's")
			}
			ids := make([]string, 0, len(o.LineItems))
			seen := map[string]bool{}
			for _, l := range o.LineItems {
				if !seen[l.ProductID] {
					seen[l.ProductID] = true
					ids = append(ids, l.ProductID)
				}
			}
			return []any{
				OrderDeliveredV1{OrderID: o.OrderID, CustomerID: o.CustomerID, ProductIDs: ids, DeliveredAt: c.At},
				statusChanged(o, StatusDelivered, c.At),
				OrderCompletedV1{OrderID: o.OrderID, CustomerID: o.CustomerID, CompletedAt: c.At},
			}, nil
		}
		return nil, invalidTransition(o, StatusDelivered)

	case Cancel:
		switch o.Status {
		case "":
			if c.IfPossible {
				return nil, nil
			}
			return nil, notFound()
		case StatusPending, StatusConfirmed:
			return []any{
				OrderCancelledV1{OrderID: o.OrderID, CheckoutID: o.CheckoutID, CustomerID: o.CustomerID,
					Reason: c.Reason, PreviousStatus: o.Status, PaymentCaptured: o.Captured, CancelledAt: c.At},
				statusChanged(o, StatusCancelled, c.At),
			}, nil
		}
		if c.IfPossible {
			return nil, nil
		}
		return nil, invalidTransition(o, StatusCancelled)

	case RecordCapture:
		if o.Status == "" || o.Captured || (c.PaymentID != "" && c.PaymentID != o.PaymentID) {
			return nil, nil
		}
		return []any{OrderPaymentCapturedV1{OrderID: o.OrderID, PaymentID: o.PaymentID, CapturedAt: c.At}}, nil

	case RecordRefund:
		if o.Status == "" || o.Refunded || (c.PaymentID != "" && c.PaymentID != o.PaymentID) {
			return nil, nil
		}
		return []any{OrderPaymentRefundedV1{OrderID: o.OrderID, PaymentID: o.PaymentID, RefundedAt: c.At}}, nil

	case RecordReadyForShipping:
		// only a confirmed order waits for the warehouse: one shipped without
		// waiting for the pack (allowed) or cancelled has no use for it
		if o.Status != StatusConfirmed || o.ReadyForShipping {
			return nil, nil
		}
		return []any{OrderReadyForShippingRecordedV1{OrderID: o.OrderID, JobID: c.JobID, At: c.At}}, nil
	}
	return nil, acme.Errorf(acme.CodeInternal, "ordering: unknown command %T", cmd)
}

func evolve(o Order, e any) Order {
	switch e := e.(type) {
	case OrderCreatedV1:
		o = Order{OrderID: e.OrderID, CheckoutID: e.CheckoutID, CustomerID: e.CustomerID, Status: StatusPending,
			LineItems: e.LineItems, Subtotal: e.Subtotal, Discount: e.Discount, TotalAmount: e.TotalAmount,
			ShippingAddress: e.ShippingAddress, PaymentID: e.PaymentID, PaymentAuthorizationID: e.PaymentAuthorizationID,
			PlacedAt: e.PlacedAt, UpdatedAt: e.PlacedAt}
	case OrderConfirmedV1:
		o.Status, o.Captured, o.UpdatedAt = StatusConfirmed, true, e.ConfirmedAt
	case OrderShippedV1:
		o.Status, o.TrackingNumber, o.Carrier, o.UpdatedAt = StatusShipped, e.TrackingNumber, e.Carrier, e.ShippedAt
	case OrderDeliveredV1:
		o.Status, o.UpdatedAt = StatusDelivered, e.DeliveredAt
	case OrderCancelledV1:
		o.Status, o.CancelReason, o.UpdatedAt = StatusCancelled, e.Reason, e.CancelledAt
	case OrderPaymentCapturedV1:
		o.Captured, o.UpdatedAt = true, e.CapturedAt
	case OrderPaymentRefundedV1:
		o.Refunded, o.UpdatedAt = true, e.RefundedAt
	case OrderReadyForShippingRecordedV1:
		o.ReadyForShipping, o.UpdatedAt = true, e.At
	case OrderStatusChangedV1, OrderCompletedV1:
		// the status itself moves with the specific event above
	}
	return o
}

// Outgoing is a command ordering sends to another context through its outbox.
type Outgoing struct {
	Type string // the owner's registered name, e.g. "ReleaseInventory"
	Data any
}

// Payloads of the commands ordering sends (docs/messages.md).
type (
	releaseInventory struct {
		CheckoutID string `json:"checkoutId"`
		Reason     string `json:"reason"`
	}
	deductInventory struct {
		CheckoutID string `json:"checkoutId"`
		OrderID    string `json:"orderId"`
	}
	voidPayment struct {
		PaymentID  string `json:"paymentId"`
		CheckoutID string `json:"checkoutId"`
		Reason     string `json:"reason"`
	}
	refundPayment struct {
		PaymentID string     `json:"paymentId"`
		OrderID   string     `json:"orderId"`
		Amount    acme.Money `json:"amount"`
		Reason    string     `json:"reason"`
	}
)

// Commands returns the commands to send for events just decided on state before
// (pure: the outbox policy). Cancelling releases the stock and voids the payment,
// or refunds it in full when it was captured; a capture learnt after the
// cancellation is refunded; shipping deducts the reserved stock.
func Commands(before Order, events []any) []Outgoing {
	var out []Outgoing
	st := before
	for _, e := range events {
		switch e := e.(type) {
		case OrderCancelledV1:
			out = append(out, Outgoing{"ReleaseInventory", releaseInventory{CheckoutID: st.CheckoutID, Reason: "ORDER_CANCELLED"}})
			if st.PaymentID != "" {
				if st.Captured {
					out = append(out, Outgoing{"RefundPayment", refundPayment{PaymentID: st.PaymentID, OrderID: st.OrderID, Amount: st.TotalAmount, Reason: e.Reason}})
				} else {
					out = append(out, Outgoing{"VoidPayment", voidPayment{PaymentID: st.PaymentID, CheckoutID: st.CheckoutID, Reason: "ORDER_CANCELLED"}})
				}
			}
		case OrderPaymentCapturedV1:
			if st.Status == StatusCancelled && !st.Refunded {
				out = append(out, Outgoing{"RefundPayment", refundPayment{PaymentID: st.PaymentID, OrderID: st.OrderID, Amount: st.TotalAmount, Reason: "ORDER_CANCELLED"}})
			}
		case OrderShippedV1:
			out = append(out, Outgoing{"DeductInventory", deductInventory{CheckoutID: st.CheckoutID, OrderID: st.OrderID}})
		}
		st = evolve(st, e)
	}
	return out
}
