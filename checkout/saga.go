package checkout

import (
	"time"

	"acme"
	"acme/es"
)

// Saga statuses.
const (
	StatusRunning   = "RUNNING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
)

// Steps, in order. Each one sends a command and waits for its reply until a deadline.
const (
	StepReserveInventory = "RESERVE_INVENTORY" // ReserveInventory → InventoryReserved | InventoryUnavailable
	StepAuthorizePayment = "AUTHORIZE_PAYMENT" // AuthorizePayment → PaymentAuthorized | PaymentFailed
	StepCreateOrder      = "CREATE_ORDER"      // CreateOrder → OrderCreated
	StepCapturePayment   = "CAPTURE_PAYMENT"   // CapturePayment → PaymentSucceeded | PaymentFailed
	StepConfirmOrder     = "CONFIRM_ORDER"     // ConfirmOrder → OrderConfirmed
)

// Failure reasons (CheckoutFailed.reason, the checkout's failureReason).
const (
	ReasonInsufficientStock = "insufficient_stock"
	ReasonPaymentDeclined   = "payment_declined"
	ReasonPaymentError      = "payment_error"
)

// ReasonOrderCancelled is the StepFailed reason when the order was cancelled
// before the saga confirmed it (the checkout still completes: its order exists).
const ReasonOrderCancelled = "order_cancelled"

// ReasonReservationExpired is the StepFailed reason when inventory let the
// checkout's reservation expire before the order was confirmed (a reservation
// TTL shorter than the steps took). The stock is gone: the checkout fails
// insufficient_stock, the payment is voided and the order cancelled.
const ReasonReservationExpired = "reservation_expired"

// Saga is the state of one checkout saga stream ("checkout-<checkoutId>").
type Saga struct {
	CheckoutID      string        `json:"checkoutId"`
	CartID          string        `json:"cartId"`
	CustomerID      string        `json:"customerId"`
	Items           []Line        `json:"items"`
	Subtotal        acme.Money    `json:"subtotal"`
	Discount        acme.Money    `json:"discount"`
	Total           acme.Money    `json:"total"`
	ShippingAddress Address       `json:"shippingAddress"`
	PaymentMethod   PaymentMethod `json:"paymentMethod"`

	Status   string    `json:"status"` // "" = not started
	Step     string    `json:"step"`
	Deadline time.Time `json:"deadline"`

	Reserved        bool   `json:"reserved"`
	PaymentID       string `json:"paymentId,omitempty"`
	Authorized      bool   `json:"authorized"`
	AuthorizationID string `json:"authorizationId,omitempty"`
	OrderID         string `json:"orderId,omitempty"`
	OrderCreated    bool   `json:"orderCreated"`
	Captured        bool   `json:"captured"`
	Confirmed       bool   `json:"confirmed"`
	TimedOut        bool   `json:"timedOut"`

	FailureReason string          `json:"failureReason,omitempty"`
	Late          map[string]bool `json:"late,omitempty"` // late replies already compensated
	StartedAt     time.Time       `json:"startedAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`
}

// CartCheckedOut is the part of cart's CartCheckedOut the saga reads.
type CartCheckedOut struct {
	CartID          string        `json:"cartId"`
	CheckoutID      string        `json:"checkoutId"`
	CustomerID      string        `json:"customerId"`
	Items           []Line        `json:"items"`
	Subtotal        acme.Money    `json:"subtotal"`
	Discount        acme.Money    `json:"discount"`
	Total           acme.Money    `json:"total"`
	PromotionCode   string        `json:"promotionCode"`
	ShippingAddress Address       `json:"shippingAddress"`
	PaymentMethod   PaymentMethod `json:"paymentMethod"`
}

// Inputs of the saga's decider. Time and ids are given: the decider is pure.
type (
	// Start begins the saga for a checked-out cart.
	Start struct {
		Cart                 CartCheckedOut
		Now                  time.Time
		StepTimeout          time.Duration
		ReservationExpiresAt time.Time
	}
	// Reply is a reply of another context to one of the saga's commands.
	Reply struct {
		Type            string // InventoryReserved, InventoryUnavailable, InventoryReleased, PaymentAuthorized, PaymentFailed, OrderCreated, PaymentSucceeded, OrderConfirmed, OrderCancelled
		PaymentID       string // payment replies
		AuthorizationID string // PaymentAuthorized
		OrderID         string // order replies
		Reason          string // PaymentFailed: payment_declined | payment_error
		Now             time.Time
		StepTimeout     time.Duration
		NewPaymentID    string // used if the reply starts AUTHORIZE_PAYMENT
		NewOrderID      string // used if the reply starts CREATE_ORDER
	}
	// Deadline is the deadline worker's tick: the current step times out if its
	// deadline has passed.
	Deadline struct{ Now time.Time }
)

// Send is a command the saga sends to another context (through its outbox).
type Send struct {
	Type string // the owner's registered name
	Data any
}

// Payloads of the commands the saga sends (docs/messages.md).
type (
	itemQty struct {
		ProductID string `json:"productId"`
		VariantID string `json:"variantId"`
		Quantity  int64  `json:"quantity"`
	}
	reserveInventory struct {
		CheckoutID string    `json:"checkoutId"`
		Items      []itemQty `json:"items"`
		ExpiresAt  string    `json:"expiresAt"`
	}
	releaseInventory struct {
		CheckoutID string `json:"checkoutId"`
		Reason     string `json:"reason"`
	}
	authorizePayment struct {
		PaymentID     string        `json:"paymentId"`
		CheckoutID    string        `json:"checkoutId"`
		CustomerID    string        `json:"customerId"`
		Amount        acme.Money    `json:"amount"`
		PaymentMethod PaymentMethod `json:"paymentMethod"`
	}
	capturePayment struct {
		PaymentID  string `json:"paymentId"`
		CheckoutID string `json:"checkoutId"`
		OrderID    string `json:"orderId"`
	}
	voidPayment struct {
		PaymentID  string `json:"paymentId"`
		CheckoutID string `json:"checkoutId"`
		Reason     string `json:"reason"`
	}
	createOrder struct {
		OrderID                string     `json:"orderId"`
		CheckoutID             string     `json:"checkoutId"`
		CustomerID             string     `json:"customerId"`
		LineItems              []Line     `json:"lineItems"`
		Subtotal               acme.Money `json:"subtotal"`
		Discount               acme.Money `json:"discount"`
		TotalAmount            acme.Money `json:"totalAmount"`
		ShippingAddress        Address    `json:"shippingAddress"`
		PaymentID              string     `json:"paymentId"`
		PaymentAuthorizationID string     `json:"paymentAuthorizationId"`
	}
	confirmOrder struct {
		OrderID string `json:"orderId"`
	}
	cancelOrder struct {
		OrderID string `json:"orderId"`
		Reason  string `json:"reason"`
	}
)

// Decision is what the saga does with an input: events to append to its stream
// and commands to send, in the same commit.
type Decision struct {
	Events []any
	Send   []Send
}

// Evolver rebuilds a saga from its events (for es.Aggregate.Load).
var Evolver = es.Decider[Saga, any]{Evolve: Evolve}

// Decide is the saga's decider: given its state and an input, the events and
// commands. It is idempotent: a duplicate reply or a deadline that is not due
// decides nothing.
func Decide(s Saga, in any) Decision {
	var d Decision
	switch in := in.(type) {
	case Start:
		if s.Status != "" {
			return d // already started: CartCheckedOut delivered twice
		}
		c := in.Cart
		d.Events = append(d.Events, SagaStartedV1{CheckoutID: c.CheckoutID, CartID: c.CartID, CustomerID: c.CustomerID,
			Items: c.Items, Subtotal: c.Subtotal, Discount: c.Discount, Total: c.Total, PromotionCode: c.PromotionCode,
			ShippingAddress: c.ShippingAddress, PaymentMethod: c.PaymentMethod, StartedAt: in.Now})
		d.step(c.CheckoutID, StepReserveInventory, in.Now, in.StepTimeout, "", "")
		items := make([]itemQty, 0, len(c.Items))
		for _, l := range c.Items {
			items = append(items, itemQty{ProductID: l.ProductID, VariantID: l.VariantID, Quantity: l.Quantity})
		}
		d.send("ReserveInventory", reserveInventory{CheckoutID: c.CheckoutID, Items: items,
			ExpiresAt: in.ReservationExpiresAt.UTC().Format(time.RFC3339Nano)})

	case Reply:
		if s.Status == "" {
			return d // not a checkout of this saga (or not started yet)
		}
		if s.Status != StatusRunning {
			return late(s, in)
		}
		decideReply(&d, s, in)

	case Deadline:
		if s.Status != StatusRunning || s.Deadline.IsZero() || in.Now.Before(s.Deadline) {
			return d
		}
		d.Events = append(d.Events, StepTimedOutV1{CheckoutID: s.CheckoutID, Step: s.Step, Deadline: s.Deadline, At: in.Now})
		reason := ReasonPaymentError
		if s.Step == StepReserveInventory {
			// No answer from inventory: the checkout could not get its stock.
			reason = ReasonInsufficientStock
		}
		// A reply may still come (it is handled as late): undo whatever the
		// step may have done, as well as the steps before it.
		d.fail(s, s.Step, reason, in.Now, true, s.PaymentID != "", true)
	}
	return d
}

func decideReply(d *Decision, s Saga, in Reply) {
	switch in.Type {
	case "InventoryReserved":
		if s.Step != StepReserveInventory || s.Reserved {
			return
		}
		d.Events = append(d.Events, StepCompletedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, At: in.Now})
		d.step(s.CheckoutID, StepAuthorizePayment, in.Now, in.StepTimeout, in.NewPaymentID, "")
		d.send("AuthorizePayment", authorizePayment{PaymentID: in.NewPaymentID, CheckoutID: s.CheckoutID,
			CustomerID: s.CustomerID, Amount: s.Total, PaymentMethod: s.PaymentMethod})

	case "InventoryReleased":
		// Only an expiry concerns a running saga (the other releases are its
		// own compensations or an order's cancellation). Units no longer held
		// cannot be sold: fail before the order is confirmed on them.
		if in.Reason != "EXPIRED" || !s.Reserved || s.Confirmed {
			return
		}
		d.Events = append(d.Events, StepFailedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, Reason: ReasonReservationExpired, At: in.Now})
		// Nothing left to release; a capture in flight is refunded by the
		// order's cancellation (ordering learns of it from PaymentSucceeded).
		d.fail(s, s.Step, ReasonInsufficientStock, in.Now, false, s.PaymentID != "", true)

	case "InventoryUnavailable":
		if s.Step != StepReserveInventory || s.Reserved {
			return
		}
		d.Events = append(d.Events, StepFailedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, Reason: ReasonInsufficientStock, At: in.Now})
		// All lines or none: nothing is held, nothing to release.
		d.fail(s, s.Step, ReasonInsufficientStock, in.Now, false, false, false)

	case "PaymentAuthorized":
		if s.Step != StepAuthorizePayment || s.Authorized || in.PaymentID != s.PaymentID {
			return
		}
		d.Events = append(d.Events, StepCompletedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, AuthorizationID: in.AuthorizationID, At: in.Now})
		d.step(s.CheckoutID, StepCreateOrder, in.Now, in.StepTimeout, "", in.NewOrderID)
		d.send("CreateOrder", createOrder{OrderID: in.NewOrderID, CheckoutID: s.CheckoutID, CustomerID: s.CustomerID,
			LineItems: s.Items, Subtotal: s.Subtotal, Discount: s.Discount, TotalAmount: s.Total,
			ShippingAddress: s.ShippingAddress, PaymentID: s.PaymentID, PaymentAuthorizationID: in.AuthorizationID})

	case "PaymentFailed":
		if in.PaymentID != s.PaymentID {
			return
		}
		switch s.Step {
		case StepAuthorizePayment:
			if s.Authorized {
				return
			}
			reason := in.Reason
			if reason != ReasonPaymentDeclined {
				reason = ReasonPaymentError
			}
			d.Events = append(d.Events, StepFailedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, Reason: reason, At: in.Now})
			// Nothing was authorized: release the stock only.
			d.fail(s, s.Step, reason, in.Now, true, false, false)
		case StepCapturePayment:
			if s.Captured {
				return
			}
			d.Events = append(d.Events, StepFailedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, Reason: ReasonPaymentError, At: in.Now})
			d.fail(s, s.Step, ReasonPaymentError, in.Now, true, true, true)
		}

	case "OrderCreated":
		if s.Step != StepCreateOrder || s.OrderCreated || in.OrderID != s.OrderID {
			return
		}
		d.Events = append(d.Events, StepCompletedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, At: in.Now})
		d.step(s.CheckoutID, StepCapturePayment, in.Now, in.StepTimeout, "", "")
		d.send("CapturePayment", capturePayment{PaymentID: s.PaymentID, CheckoutID: s.CheckoutID, OrderID: s.OrderID})

	case "PaymentSucceeded":
		if s.Step != StepCapturePayment || s.Captured || in.PaymentID != s.PaymentID {
			return
		}
		d.Events = append(d.Events, StepCompletedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, At: in.Now})
		d.step(s.CheckoutID, StepConfirmOrder, in.Now, in.StepTimeout, "", "")
		d.send("ConfirmOrder", confirmOrder{OrderID: s.OrderID})

	case "OrderCancelled":
		// The order's owner or an admin cancelled it before the saga confirmed
		// it. Ordering's cancellation releases the stock and voids (or refunds)
		// the payment, so the saga only ends: the checkout did place its order,
		// which now says CANCELLED. Waiting on for a confirmation that cannot
		// come would time out, compensate again and refill the cart.
		if s.OrderID == "" || in.OrderID != s.OrderID || s.Confirmed ||
			(s.Step != StepCreateOrder && s.Step != StepCapturePayment && s.Step != StepConfirmOrder) {
			return
		}
		d.Events = append(d.Events,
			StepFailedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, Reason: ReasonOrderCancelled, At: in.Now},
			CheckoutCompletedV1{CheckoutID: s.CheckoutID, CartID: s.CartID, CustomerID: s.CustomerID, OrderID: s.OrderID, CompletedAt: in.Now})

	case "OrderConfirmed":
		if s.Step != StepConfirmOrder || s.Confirmed || in.OrderID != s.OrderID {
			return
		}
		d.Events = append(d.Events,
			StepCompletedV1{CheckoutID: s.CheckoutID, Step: s.Step, Reply: in.Type, At: in.Now},
			CheckoutCompletedV1{CheckoutID: s.CheckoutID, CartID: s.CartID, CustomerID: s.CustomerID, OrderID: s.OrderID, CompletedAt: in.Now})
	}
}

// late handles a reply that arrives after the saga ended: whatever it did is
// undone (once per reply type), so a timed-out step leaves nothing held.
func late(s Saga, in Reply) Decision {
	var d Decision
	if s.Late[in.Type] {
		return d
	}
	if s.Status == StatusCompleted && in.Type == "InventoryReleased" && in.Reason == "EXPIRED" && s.OrderID != "" {
		// The reservation expired in the instant between the order's
		// confirmation and inventory's commit of it (a committed one never
		// expires): the confirmed order holds no stock, and shipping it would
		// sell units that are free again. Ordering's cancellation refunds.
		d.send("CancelOrder", cancelOrder{OrderID: s.OrderID, Reason: "OUT_OF_STOCK"})
		d.Events = append(d.Events, CompensationSentV1{CheckoutID: s.CheckoutID, Commands: []string{"CancelOrder"}, Late: in.Type, At: in.Now})
		return d
	}
	if s.Status != StatusFailed {
		return d
	}
	var sent []string
	switch in.Type {
	case "InventoryReserved":
		if s.Reserved {
			return d
		}
		d.send("ReleaseInventory", releaseInventory{CheckoutID: s.CheckoutID, Reason: "CHECKOUT_FAILED"})
		sent = []string{"ReleaseInventory"}
	case "PaymentAuthorized":
		if s.Authorized || s.PaymentID == "" || in.PaymentID != s.PaymentID {
			return d
		}
		d.send("VoidPayment", voidPayment{PaymentID: s.PaymentID, CheckoutID: s.CheckoutID, Reason: "CHECKOUT_FAILED"})
		sent = []string{"VoidPayment"}
	case "OrderCreated":
		if s.OrderCreated || s.OrderID == "" || in.OrderID != s.OrderID {
			return d
		}
		// Ordering's cancellation releases the stock and voids (or refunds) the payment.
		d.send("CancelOrder", cancelOrder{OrderID: s.OrderID, Reason: "PAYMENT_FAILED"})
		sent = []string{"CancelOrder"}
	default:
		// A late capture or confirmation: the CancelOrder sent on failure makes
		// ordering refund (it learns the capture from PaymentSucceeded).
		return d
	}
	d.Events = append(d.Events, CompensationSentV1{CheckoutID: s.CheckoutID, Commands: sent, Late: in.Type, At: in.Now})
	return d
}

func (d *Decision) send(typ string, data any) { d.Send = append(d.Send, Send{Type: typ, Data: data}) }

func (d *Decision) step(checkoutID, step string, now time.Time, timeout time.Duration, paymentID, orderID string) {
	d.Events = append(d.Events, StepStartedV1{CheckoutID: checkoutID, Step: step, Deadline: now.Add(timeout),
		PaymentID: paymentID, OrderID: orderID, At: now})
}

// fail compensates and ends the saga: release the stock, void the payment,
// cancel the order, as asked and as far as the saga got.
func (d *Decision) fail(s Saga, step, reason string, now time.Time, release, void, cancel bool) {
	var sent []string
	if release {
		d.send("ReleaseInventory", releaseInventory{CheckoutID: s.CheckoutID, Reason: "CHECKOUT_FAILED"})
		sent = append(sent, "ReleaseInventory")
	}
	if void && s.PaymentID != "" {
		d.send("VoidPayment", voidPayment{PaymentID: s.PaymentID, CheckoutID: s.CheckoutID, Reason: "CHECKOUT_FAILED"})
		sent = append(sent, "VoidPayment")
	}
	if cancel && s.OrderID != "" {
		why := "PAYMENT_FAILED"
		if reason == ReasonInsufficientStock {
			why = "OUT_OF_STOCK" // the reservation expired under the saga
		}
		d.send("CancelOrder", cancelOrder{OrderID: s.OrderID, Reason: why})
		sent = append(sent, "CancelOrder")
	}
	if len(sent) > 0 {
		d.Events = append(d.Events, CompensationSentV1{CheckoutID: s.CheckoutID, Commands: sent, At: now})
	}
	created := "" // the order, when it exists (a failed creation may have made none)
	if step == StepCapturePayment || step == StepConfirmOrder {
		created = s.OrderID
	}
	d.Events = append(d.Events, CheckoutFailedV1{CheckoutID: s.CheckoutID, CartID: s.CartID, CustomerID: s.CustomerID,
		Reason: reason, Step: step, OrderID: created, FailedAt: now})
}

// Evolve returns the saga after event e.
func Evolve(s Saga, e any) Saga {
	switch e := e.(type) {
	case SagaStartedV1:
		s = Saga{CheckoutID: e.CheckoutID, CartID: e.CartID, CustomerID: e.CustomerID, Items: e.Items,
			Subtotal: e.Subtotal, Discount: e.Discount, Total: e.Total, ShippingAddress: e.ShippingAddress,
			PaymentMethod: e.PaymentMethod, Status: StatusRunning, StartedAt: e.StartedAt, UpdatedAt: e.StartedAt}
	case StepStartedV1:
		s.Step, s.Deadline, s.UpdatedAt = e.Step, e.Deadline, e.At
		if e.PaymentID != "" {
			s.PaymentID = e.PaymentID
		}
		if e.OrderID != "" {
			s.OrderID = e.OrderID
		}
	case StepCompletedV1:
		s.UpdatedAt = e.At
		switch e.Step {
		case StepReserveInventory:
			s.Reserved = true
		case StepAuthorizePayment:
			s.Authorized, s.AuthorizationID = true, e.AuthorizationID
		case StepCreateOrder:
			s.OrderCreated = true
		case StepCapturePayment:
			s.Captured = true
		case StepConfirmOrder:
			s.Confirmed = true
		}
	case StepFailedV1:
		s.UpdatedAt = e.At
	case StepTimedOutV1:
		s.TimedOut, s.UpdatedAt = true, e.At
	case CompensationSentV1:
		s.UpdatedAt = e.At
		if e.Late != "" {
			late := make(map[string]bool, len(s.Late)+1)
			for k, v := range s.Late {
				late[k] = v
			}
			late[e.Late] = true
			s.Late = late
		}
	case CheckoutCompletedV1:
		s.Status, s.Deadline, s.UpdatedAt = StatusCompleted, time.Time{}, e.CompletedAt
	case CheckoutFailedV1:
		s.Status, s.FailureReason, s.Deadline, s.UpdatedAt = StatusFailed, e.Reason, time.Time{}, e.FailedAt
	}
	return s
}
