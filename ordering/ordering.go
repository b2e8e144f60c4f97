// Package ordering is the Order Management System: orders from placement to
// delivery or cancellation.
//
// Language: an order is placed by the checkout saga (CreateOrder, alias PlaceOrder)
// once its stock is reserved and its payment authorized; it is PENDING. When the
// payment is captured the saga confirms it (CONFIRMED); an admin ships it
// (SHIPPED, the reserved stock is deducted) and records its delivery (DELIVERED,
// the order is completed). A PENDING or CONFIRMED order may be cancelled by its
// customer or an admin (CANCELLED): the reserved stock is released and the payment
// voided, or refunded in full when it was captured.
//
// Invariants: the state machine PENDING → CONFIRMED → SHIPPED → DELIVERED, with
// CANCELLED from PENDING or CONFIRMED only (invalid_transition otherwise); delivery
// needs the shipment's tracking number (tracking_mismatch); CreateOrder is
// idempotent by orderId; a payment is refunded at most once by this context.
//
// Messages in: CreateOrder, ConfirmOrder, CancelOrder (commands, from checkout);
// PaymentSucceeded, PaymentRefunded (payments); OrderReadyForShipping (warehouse).
// Messages out: OrderCreated, OrderConfirmed, OrderShipped, OrderDelivered,
// OrderCancelled, OrderCompleted, OrderStatusChanged (every transition), and the
// commands ReleaseInventory, DeductInventory (inventory), VoidPayment,
// RefundPayment (payments), sent through the outbox stream "order-<id>.outbox" in
// the same commit as the events that cause them.
//
// Reads: GET of one order is rebuilt from its stream (so asOf/version temporal
// queries are exact); lists come from the inline read model ordering_orders,
// written in the same transaction as the events (read-your-writes).
package ordering

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"acme"
	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Module is the ordering bounded context.
type Module struct {
	clock  acme.Clock
	h      es.Host
	orders *es.Aggregate[Order, any]
}

// New returns the ordering context. A nil clock is the system clock.
func New(clock acme.Clock) *Module {
	if clock == nil {
		clock = acme.SystemClock{}
	}
	return &Module{clock: clock}
}

// Name is the context's name.
func (m *Module) Name() string { return owner }

// Messages lists every message ordering declares.
func (m *Module) Messages() []es.MessageType { return messages() }

// Start applies the migrations and registers the consumers.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	m.h = h
	if err := es.MigrateDir(ctx, h.Store(), owner, migrations, "migrations"); err != nil {
		return fmt.Errorf("ordering: migrate: %w", err)
	}
	m.orders = &es.Aggregate[Order, any]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID,
		StreamType: "order", Decider: Decider}
	h.Consume("commands", []string{"CreateOrder", "ConfirmOrder", "CancelOrder"}, m.onCommand)
	consume(ctx, h, "payments", []string{"PaymentSucceeded", "PaymentRefunded"}, m.onPayment)
	consume(ctx, h, "warehouse", []string{"OrderReadyForShipping"}, m.onWarehouse)
	return nil
}

func isClientError(err error) bool {
	return acme.ErrorCode(err) != "" && acme.ErrorCode(err) != acme.CodeInternal
}

func (m *Module) onCommand(ctx context.Context, msg es.Message) (es.Commit, error) {
	switch msg.Type {
	case "CreateOrder":
		c, err := CreateOrder.DecodeMessage(msg)
		if err != nil {
			return es.Commit{}, es.Permanent(err)
		}
		if !acme.ValidID(c.OrderID) {
			return es.Commit{}, es.Permanent(fmt.Errorf("ordering: CreateOrder without a valid orderId"))
		}
		return m.consume(ctx, c.OrderID, Create{OrderID: c.OrderID, CheckoutID: c.CheckoutID, CustomerID: c.CustomerID,
			LineItems: c.LineItems, Subtotal: c.Subtotal, Discount: c.Discount, TotalAmount: c.TotalAmount,
			ShippingAddress: c.ShippingAddress, PaymentID: c.PaymentID, PaymentAuthorizationID: c.PaymentAuthorizationID,
			At: m.now()})
	case "ConfirmOrder":
		c, err := ConfirmOrder.DecodeMessage(msg)
		if err != nil {
			return es.Commit{}, es.Permanent(err)
		}
		return m.consume(ctx, c.OrderID, Confirm{At: m.now()})
	case "CancelOrder":
		c, err := CancelOrder.DecodeMessage(msg)
		if err != nil {
			return es.Commit{}, es.Permanent(err)
		}
		reason := c.Reason
		if reason == "" {
			reason = "PAYMENT_FAILED"
		}
		return m.consume(ctx, c.OrderID, Cancel{Reason: reason, At: m.now(), IfPossible: true})
	}
	return es.Commit{}, nil
}

// paymentEvent is the part of payments' PaymentSucceeded / PaymentRefunded ordering reads.
type paymentEvent struct {
	PaymentID string `json:"paymentId"`
	OrderID   string `json:"orderId"`
}

func (m *Module) onPayment(ctx context.Context, msg es.Message) (es.Commit, error) {
	var p paymentEvent
	if err := decodeData(msg, &p); err != nil {
		return es.Commit{}, es.Permanent(err)
	}
	if !acme.ValidID(p.OrderID) {
		return es.Commit{}, nil // an authorization-time event, not about an order yet
	}
	switch msg.Type {
	case "PaymentSucceeded":
		return m.consume(ctx, p.OrderID, RecordCapture{PaymentID: p.PaymentID, At: m.now()})
	case "PaymentRefunded":
		return m.consume(ctx, p.OrderID, RecordRefund{PaymentID: p.PaymentID, At: m.now()})
	}
	return es.Commit{}, nil
}

// readyForShipping is the part of warehouse's OrderReadyForShipping ordering reads.
type readyForShipping struct {
	JobID   string `json:"jobId"`
	OrderID string `json:"orderId"`
}

func (m *Module) onWarehouse(ctx context.Context, msg es.Message) (es.Commit, error) {
	var r readyForShipping
	if err := decodeData(msg, &r); err != nil {
		return es.Commit{}, es.Permanent(err)
	}
	if !acme.ValidID(r.OrderID) {
		slog.WarnContext(ctx, "ordering: OrderReadyForShipping without a valid orderId", "id", msg.ID)
		return es.Commit{}, nil
	}
	return m.consume(ctx, r.OrderID, RecordReadyForShipping{JobID: r.JobID, At: m.now()})
}

func decodeData(msg es.Message, v any) error {
	if err := json.Unmarshal(msg.Data, v); err != nil {
		return errors.Join(fmt.Errorf("ordering: decode %s", msg.Type), err)
	}
	return nil
}

// consume registers a consumer of the given types that are declared in this
// build (a context that is not part of it publishes nothing to wait for).
func consume(ctx context.Context, h es.Host, name string, types []string, hd es.Handler) {
	var known []string
	for _, t := range types {
		if _, ok := h.Registry().Lookup(t); ok {
			known = append(known, t)
		} else {
			slog.WarnContext(ctx, "not consuming a message no context of this build declares", "context", h.Name(), "consumer", name, "type", t)
		}
	}
	if len(known) > 0 {
		h.Consume(name, known, hd)
	}
}
