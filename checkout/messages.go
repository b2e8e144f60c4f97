package checkout

import (
	"time"

	"acme"
	"acme/es"
)

const owner = "checkout"

// Line is one line of the checked-out cart.
type Line struct {
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

// PaymentMethod is how the customer pays.
type PaymentMethod struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// SagaStartedV1: a checked-out cart starts a checkout saga (copied from CartCheckedOut).
type SagaStartedV1 struct {
	CheckoutID      string        `json:"checkoutId"`
	CartID          string        `json:"cartId"`
	CustomerID      string        `json:"customerId"`
	Items           []Line        `json:"items"`
	Subtotal        acme.Money    `json:"subtotal"`
	Discount        acme.Money    `json:"discount"`
	Total           acme.Money    `json:"total"`
	PromotionCode   string        `json:"promotionCode,omitempty"`
	ShippingAddress Address       `json:"shippingAddress"`
	PaymentMethod   PaymentMethod `json:"paymentMethod"`
	StartedAt       time.Time     `json:"startedAt"`
}

// StepStartedV1: the saga sent a step's command and waits for its reply until Deadline.
type StepStartedV1 struct {
	CheckoutID string    `json:"checkoutId"`
	Step       string    `json:"step"`
	Deadline   time.Time `json:"deadline"`
	PaymentID  string    `json:"paymentId,omitempty"` // AUTHORIZE_PAYMENT: the payment's id
	OrderID    string    `json:"orderId,omitempty"`   // CREATE_ORDER: the order's id
	At         time.Time `json:"at"`
}

// StepCompletedV1: a step's success reply arrived.
type StepCompletedV1 struct {
	CheckoutID      string    `json:"checkoutId"`
	Step            string    `json:"step"`
	Reply           string    `json:"reply"`
	AuthorizationID string    `json:"authorizationId,omitempty"`
	At              time.Time `json:"at"`
}

// StepFailedV1: a step's failure reply arrived.
type StepFailedV1 struct {
	CheckoutID string    `json:"checkoutId"`
	Step       string    `json:"step"`
	Reply      string    `json:"reply"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// StepTimedOutV1: no reply before the step's deadline.
type StepTimedOutV1 struct {
	CheckoutID string    `json:"checkoutId"`
	Step       string    `json:"step"`
	Deadline   time.Time `json:"deadline"`
	At         time.Time `json:"at"`
}

// CompensationSentV1: the commands undoing what the saga did were sent.
type CompensationSentV1 struct {
	CheckoutID string   `json:"checkoutId"`
	Commands   []string `json:"commands"`
	// Late is the reply, arrived after the saga ended, that the compensation
	// answers ("" for the compensation of the failure itself).
	Late string    `json:"late,omitempty"`
	At   time.Time `json:"at"`
}

// CheckoutCompletedV1: the order is confirmed (payment captured). Published.
type CheckoutCompletedV1 struct {
	CheckoutID  string    `json:"checkoutId"`
	CartID      string    `json:"cartId"`
	CustomerID  string    `json:"customerId"`
	OrderID     string    `json:"orderId"`
	CompletedAt time.Time `json:"completedAt"`
}

// CheckoutFailedV1: the checkout failed; nothing is held, no money taken. Published.
type CheckoutFailedV1 struct {
	CheckoutID string    `json:"checkoutId"`
	CartID     string    `json:"cartId"`
	CustomerID string    `json:"customerId"`
	Reason     string    `json:"reason"` // insufficient_stock | payment_declined | payment_error
	Step       string    `json:"step,omitempty"`
	OrderID    string    `json:"orderId,omitempty"` // the order created before the failure (cancelled with it)
	FailedAt   time.Time `json:"failedAt"`
}

func event[T any](name, summary string, consumers ...string) *es.Msg[T] {
	return es.Define[T](es.MessageSpec{Name: name, Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: consumers, Summary: summary})
}

// internal declares the saga's bookkeeping: kept in its stream, never
// published (eleven of a checkout's seventeen entries; nothing consumes them).
func internal[T any](name, summary string) *es.Msg[T] {
	return es.Define[T](es.MessageSpec{Name: name, Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: summary, Internal: true})
}

// ListSagasV1 is the admin's query of checkout sagas (GET /api/v1/admin/sagas).
type ListSagasV1 struct {
	Status   string `json:"status,omitempty"`
	Page     int    `json:"page,omitempty"`
	PageSize int    `json:"pageSize,omitempty"`
}

// Declared messages of the checkout context.
var (
	ListSagas = es.Define[ListSagasV1](es.MessageSpec{Name: "ListSagas", Kind: es.KindQuery, Owner: owner,
		Producers: []string{"admin"}, Consumers: []string{owner},
		Summary: "Checkout sagas, newest first, with their state, step and deadline."})
	SagaStarted       = internal[SagaStartedV1]("SagaStarted", "A checkout saga started from a checked-out cart (internal).")
	StepStarted       = internal[StepStartedV1]("StepStarted", "A checkout step's command was sent, with its deadline (internal).")
	StepCompleted     = internal[StepCompletedV1]("StepCompleted", "A checkout step succeeded (internal).")
	StepFailed        = internal[StepFailedV1]("StepFailed", "A checkout step failed (internal).")
	StepTimedOut      = internal[StepTimedOutV1]("StepTimedOut", "A checkout step got no reply before its deadline (internal).")
	CompensationSent  = internal[CompensationSentV1]("CompensationSent", "The saga sent the commands undoing its steps (internal).")
	CheckoutCompleted = event[CheckoutCompletedV1]("CheckoutCompleted", "A checkout ended with a confirmed order.", "cart", "notifications")
	CheckoutFailed    = event[CheckoutFailedV1]("CheckoutFailed", "A checkout failed; no stock held, no money taken; the cart is restored.", "cart", "notifications")
)

func messages() []es.MessageType {
	return []es.MessageType{SagaStarted, StepStarted, StepCompleted, StepFailed, StepTimedOut, CompensationSent,
		CheckoutCompleted, CheckoutFailed, ListSagas}
}
