package payments

import (
	"time"

	"acme"
	"acme/es"
)

// PaymentMethod is how the customer pays: {type: "card", token}.
type PaymentMethod struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// AuthorizePaymentV1 asks for a hold of amount on the customer's payment method.
type AuthorizePaymentV1 struct {
	PaymentID     string        `json:"paymentId"`
	CheckoutID    string        `json:"checkoutId"`
	CustomerID    string        `json:"customerId"`
	Amount        acme.Money    `json:"amount"`
	PaymentMethod PaymentMethod `json:"paymentMethod"`
}

// CapturePaymentV1 asks to take the authorized money.
type CapturePaymentV1 struct {
	PaymentID  string `json:"paymentId"`
	CheckoutID string `json:"checkoutId"`
	OrderID    string `json:"orderId"`
}

// VoidPaymentV1 asks to release an authorization (no money is taken).
type VoidPaymentV1 struct {
	PaymentID  string `json:"paymentId"`
	CheckoutID string `json:"checkoutId"`
	Reason     string `json:"reason"`
}

// RefundPaymentV1 asks to give captured money back.
type RefundPaymentV1 struct {
	PaymentID string     `json:"paymentId"`
	OrderID   string     `json:"orderId"`
	Amount    acme.Money `json:"amount"`
	Reason    string     `json:"reason"`
}

// PaymentRequestedV1: an authorization was asked of the processor (catalog event).
type PaymentRequestedV1 struct {
	PaymentID   string     `json:"paymentId"`
	CheckoutID  string     `json:"checkoutId"`
	CustomerID  string     `json:"customerId"`
	Amount      acme.Money `json:"amount"`
	Currency    string     `json:"currency"`
	RequestedAt time.Time  `json:"requestedAt"`
}

// PaymentAuthorizedV1: the money is held.
type PaymentAuthorizedV1 struct {
	PaymentID       string     `json:"paymentId"`
	CheckoutID      string     `json:"checkoutId"`
	CustomerID      string     `json:"customerId"`
	Amount          acme.Money `json:"amount"`
	AuthorizationID string     `json:"authorizationId"`
	AuthorizedAt    time.Time  `json:"authorizedAt"`
}

// PaymentFailedV1: an operation on the payment failed. Operation says which one
// ("authorize", "capture"); reason is payment_declined or payment_error.
type PaymentFailedV1 struct {
	PaymentID   string    `json:"paymentId"`
	CheckoutID  string    `json:"checkoutId"`
	OrderID     string    `json:"orderId,omitempty"`
	Operation   string    `json:"operation"`
	Reason      string    `json:"reason"`
	DeclineCode string    `json:"declineCode"`
	Message     string    `json:"message,omitempty"`
	FailedAt    time.Time `json:"failedAt"`
}

// PaymentSucceededV1: the authorized money was captured.
type PaymentSucceededV1 struct {
	PaymentID          string     `json:"paymentId"`
	CheckoutID         string     `json:"checkoutId"`
	OrderID            string     `json:"orderId"`
	Amount             acme.Money `json:"amount"`
	Currency           string     `json:"currency"`
	ProcessorReference string     `json:"processorReference"`
	CapturedAt         time.Time  `json:"capturedAt"`
}

// PaymentVoidedV1: the authorization was released (or the payment was voided
// before it was authorized, which then refuses the authorization).
type PaymentVoidedV1 struct {
	PaymentID  string    `json:"paymentId"`
	CheckoutID string    `json:"checkoutId"`
	Reason     string    `json:"reason"`
	VoidedAt   time.Time `json:"voidedAt"`
}

// RefundRequestedV1: a refund was asked of the processor (catalog event).
type RefundRequestedV1 struct {
	RefundID    string     `json:"refundId"`
	PaymentID   string     `json:"paymentId"`
	OrderID     string     `json:"orderId"`
	Amount      acme.Money `json:"amount"`
	Currency    string     `json:"currency"`
	Reason      string     `json:"reason"`
	RequestedAt time.Time  `json:"requestedAt"`
}

// PaymentRefundedV1: captured money was given back (alias RefundProcessed).
type PaymentRefundedV1 struct {
	PaymentID  string     `json:"paymentId"`
	RefundID   string     `json:"refundId"`
	OrderID    string     `json:"orderId"`
	Amount     acme.Money `json:"amount"`
	Currency   string     `json:"currency"`
	RefundedAt time.Time  `json:"refundedAt"`
}

func spec(name string, kind es.Kind, producers, consumers []string, summary string) es.MessageSpec {
	return es.MessageSpec{Name: name, Kind: kind, Version: "1.0.0", Owner: "payments",
		Producers: producers, Consumers: consumers, Summary: summary}
}

var self = []string{"payments"}

// The messages payments owns.
var (
	AuthorizePayment = es.Define[AuthorizePaymentV1](spec("AuthorizePayment", es.KindCommand,
		[]string{"checkout"}, self, "Hold the checkout's total on the customer's payment method"))
	CapturePayment = es.Define[CapturePaymentV1](spec("CapturePayment", es.KindCommand,
		[]string{"checkout"}, self, "Capture an authorized payment (at most once)"))
	VoidPayment = es.Define[VoidPaymentV1](spec("VoidPayment", es.KindCommand,
		[]string{"checkout", "ordering"}, self, "Release an authorization (at most once)"))
	RefundPayment = es.Define[RefundPaymentV1](spec("RefundPayment", es.KindCommand,
		[]string{"ordering"}, self, "Refund a captured payment (at most once per payment)"))

	PaymentRequested = es.Define[PaymentRequestedV1](spec("PaymentRequested", es.KindEvent,
		self, nil, "An authorization was requested from the payment processor"))
	PaymentAuthorized = es.Define[PaymentAuthorizedV1](spec("PaymentAuthorized", es.KindEvent,
		self, []string{"checkout"}, "The payment's amount is held by the processor"))
	PaymentFailed = es.Define[PaymentFailedV1](spec("PaymentFailed", es.KindEvent,
		self, []string{"checkout"}, "An authorization or capture failed (reason payment_declined or payment_error)"))
	PaymentSucceeded = es.Define[PaymentSucceededV1](spec("PaymentSucceeded", es.KindEvent,
		self, []string{"checkout"}, "The authorized payment was captured"))
	PaymentVoided = es.Define[PaymentVoidedV1](spec("PaymentVoided", es.KindEvent,
		self, []string{"checkout"}, "The authorization was released; no money is taken"))
	RefundRequested = es.Define[RefundRequestedV1](spec("RefundRequested", es.KindEvent,
		self, nil, "A refund was requested from the payment processor"))
	PaymentRefunded = es.Define[PaymentRefundedV1](func() es.MessageSpec {
		s := spec("PaymentRefunded", es.KindEvent, self, []string{"ordering"}, "Captured money was given back")
		s.Aliases = []string{"RefundProcessed"}
		return s
	}())
)

// Messages lists every message payments owns.
func messages() []es.MessageType {
	return []es.MessageType{AuthorizePayment, CapturePayment, VoidPayment, RefundPayment,
		PaymentRequested, PaymentAuthorized, PaymentFailed, PaymentSucceeded, PaymentVoided,
		RefundRequested, PaymentRefunded}
}
