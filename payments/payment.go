package payments

import (
	"errors"
	"time"

	"acme"
	"acme/es"
)

// Status of a payment.
const (
	StatusNew        = ""
	StatusAuthorized = "AUTHORIZED"
	StatusFailed     = "FAILED" // the authorization was declined or errored
	StatusCaptured   = "CAPTURED"
	StatusVoided     = "VOIDED"
	StatusRefunded   = "REFUNDED"
)

// Failure reasons in PaymentFailed.
const (
	ReasonDeclined = "payment_declined"
	ReasonError    = "payment_error"
)

// Op is an operation on a payment, and on the processor.
type Op string

const (
	OpNone      Op = ""
	OpAuthorize Op = "authorize"
	OpCapture   Op = "capture"
	OpVoid      Op = "void"
	OpRefund    Op = "refund"
)

// Payment is the state of one payment stream ("payment-<paymentId>").
type Payment struct {
	ID              string     `json:"id"`
	CheckoutID      string     `json:"checkoutId"`
	CustomerID      string     `json:"customerId"`
	OrderID         string     `json:"orderId"`
	Amount          acme.Money `json:"amount"`
	Status          string     `json:"status"`
	AuthorizeSeen   bool       `json:"authorizeSeen"` // an AuthorizePayment was decided (at most one is acted on)
	AuthorizationID string     `json:"authorizationId"`
	CaptureID       string     `json:"captureId"`
	Refunded        acme.Money `json:"refunded"`
}

// Command is one request on a payment. The processor call it needs (see Plan)
// is made by the caller before deciding; its answer is Result.
type Command struct {
	Op         Op
	PaymentID  string
	CheckoutID string
	CustomerID string
	OrderID    string
	Amount     acme.Money // authorize: the amount; refund: the amount (zero = all captured)
	Method     PaymentMethod
	Reason     string
	RefundID   string // refund: the new refund's id
	At         time.Time
	// Result is the processor's answer to the call Plan asked for (nil: not called).
	Result *Result
}

// errNeedsProcessor: the command reached a state that needs a processor call
// its Result does not answer (the state changed since Plan); the caller retries.
var errNeedsProcessor = errors.New("payments: state changed since the processor was called; retry")

// Plan returns the processor operation cmd needs in state p (OpNone: none; the
// decision is made from the state alone). Pure.
func Plan(p Payment, cmd Command) Op {
	switch cmd.Op {
	case OpAuthorize:
		if p.Status == StatusNew && !p.AuthorizeSeen && validAuthorize(cmd) == "" && cmd.Amount.Amount > 0 {
			return OpAuthorize
		}
	case OpCapture:
		if p.Status == StatusAuthorized && p.Amount.Amount > 0 {
			return OpCapture
		}
	case OpVoid:
		if p.Status == StatusAuthorized && p.Amount.Amount > 0 {
			return OpVoid
		}
	case OpRefund:
		switch {
		case p.Status == StatusCaptured && p.Amount.Amount > 0 && refundProblem(p, cmd) == "":
			return OpRefund
		case p.Status == StatusAuthorized && p.Amount.Amount > 0:
			return OpVoid // nothing was taken yet: releasing the hold is the refund
		}
	}
	return OpNone
}

func validAuthorize(cmd Command) string {
	switch {
	case !acme.ValidCurrency(cmd.Amount.Currency) || cmd.Amount.Amount < 0:
		return "the amount is not valid"
	case cmd.Method.Type != "card" || cmd.Method.Token == "":
		return "the payment method is not a card with a token"
	}
	return ""
}

func refundAmount(p Payment, cmd Command) acme.Money {
	if cmd.Amount.Amount == 0 {
		return acme.Money{Amount: p.Amount.Amount - p.Refunded.Amount, Currency: p.Amount.Currency}
	}
	return cmd.Amount
}

func refundProblem(p Payment, cmd Command) string {
	a := refundAmount(p, cmd)
	switch {
	case a.Currency != p.Amount.Currency:
		return "the refund's currency is not the payment's"
	case a.Amount <= 0 || a.Amount > p.Amount.Amount-p.Refunded.Amount:
		return "the refund amount is more than what was captured"
	}
	return ""
}

// Decider is the payment aggregate. A capture, void or refund is acted on at
// most once: once the payment left AUTHORIZED (or CAPTURED for a refund), a
// repeated request decides nothing.
var Decider = es.Decider[Payment, Command]{
	Decide: decide,
	Evolve: evolve,
}

func decide(p Payment, c Command) ([]any, error) {
	op := Plan(p, c)
	if op != OpNone && (c.Result == nil || c.Result.Op != op) {
		return nil, errNeedsProcessor
	}
	switch c.Op {
	case OpAuthorize:
		return decideAuthorize(p, c)
	case OpCapture:
		return decideCapture(p, c)
	case OpVoid:
		return decideVoid(p, c)
	case OpRefund:
		return decideRefund(p, c)
	}
	return nil, errors.New("payments: unknown operation " + string(c.Op))
}

func failed(p Payment, c Command, op Op, reason, declineCode, msg string) PaymentFailedV1 {
	checkout := p.CheckoutID
	if checkout == "" {
		checkout = c.CheckoutID
	}
	order := c.OrderID
	if order == "" {
		order = p.OrderID
	}
	return PaymentFailedV1{PaymentID: c.PaymentID, CheckoutID: checkout, OrderID: order, Operation: string(op),
		Reason: reason, DeclineCode: declineCode, Message: msg, FailedAt: c.At}
}

func decideAuthorize(p Payment, c Command) ([]any, error) {
	if p.AuthorizeSeen {
		return nil, nil // asked before: acted on once
	}
	req := PaymentRequestedV1{PaymentID: c.PaymentID, CheckoutID: c.CheckoutID, CustomerID: c.CustomerID,
		Amount: c.Amount, Currency: c.Amount.Currency, RequestedAt: c.At}
	if p.Status == StatusVoided {
		return []any{req, failed(p, c, OpAuthorize, ReasonError, "", "the payment was voided before it was authorized")}, nil
	}
	if p.Status != StatusNew {
		return nil, nil
	}
	if msg := validAuthorize(c); msg != "" {
		return []any{req, failed(p, c, OpAuthorize, ReasonError, "", msg)}, nil
	}
	authorized := func(id string) []any {
		return []any{req, PaymentAuthorizedV1{PaymentID: c.PaymentID, CheckoutID: c.CheckoutID, CustomerID: c.CustomerID,
			Amount: c.Amount, AuthorizationID: id, AuthorizedAt: c.At}}
	}
	if c.Amount.Amount == 0 {
		return authorized(""), nil // nothing to hold
	}
	switch r := c.Result; r.Status {
	case Approved:
		return authorized(r.ID), nil
	case Declined:
		return []any{req, failed(p, c, OpAuthorize, ReasonDeclined, r.DeclineCode, r.Message)}, nil
	default:
		return []any{req, failed(p, c, OpAuthorize, ReasonError, r.DeclineCode, r.Message)}, nil
	}
}

func decideCapture(p Payment, c Command) ([]any, error) {
	switch p.Status {
	case StatusCaptured, StatusRefunded:
		return nil, nil // captured once already
	case StatusAuthorized:
	default:
		return []any{failed(p, c, OpCapture, ReasonError, "", "the payment is "+statusWord(p.Status)+", not authorized")}, nil
	}
	ok := PaymentSucceededV1{PaymentID: p.ID, CheckoutID: p.CheckoutID, OrderID: c.OrderID, Amount: p.Amount,
		Currency: p.Amount.Currency, CapturedAt: c.At}
	if p.Amount.Amount == 0 {
		return []any{ok}, nil
	}
	if c.Result.Status == Approved {
		ok.ProcessorReference = c.Result.ID
		return []any{ok}, nil
	}
	return []any{failed(p, c, OpCapture, ReasonError, c.Result.DeclineCode, c.Result.Message)}, nil
}

func statusWord(s string) string {
	if s == StatusNew {
		return "unknown"
	}
	return s
}

func decideVoid(p Payment, c Command) ([]any, error) {
	voided := PaymentVoidedV1{PaymentID: c.PaymentID, CheckoutID: p.CheckoutID, Reason: c.Reason, VoidedAt: c.At}
	switch p.Status {
	case StatusNew:
		// Voided before any authorization was decided (a timed-out saga step):
		// record it so a late AuthorizePayment holds nothing.
		if voided.CheckoutID == "" {
			voided.CheckoutID = c.CheckoutID
		}
		return []any{voided}, nil
	case StatusAuthorized:
		if p.Amount.Amount == 0 || c.Result.Status == Approved {
			return []any{voided}, nil
		}
		return []any{failed(p, c, OpVoid, ReasonError, c.Result.DeclineCode, c.Result.Message)}, nil
	}
	return nil, nil // voided, failed (nothing held), captured or refunded: nothing to release
}

func decideRefund(p Payment, c Command) ([]any, error) {
	switch p.Status {
	case StatusAuthorized: // not captured: release the hold instead
		if p.Amount.Amount == 0 || c.Result.Status == Approved {
			return []any{PaymentVoidedV1{PaymentID: p.ID, CheckoutID: p.CheckoutID, Reason: "refund before capture: " + c.Reason, VoidedAt: c.At}}, nil
		}
		return []any{failed(p, c, OpVoid, ReasonError, c.Result.DeclineCode, c.Result.Message)}, nil
	case StatusCaptured:
	default:
		return nil, nil // nothing was taken, or refunded once already
	}
	if p.Amount.Amount == 0 {
		return nil, nil // nothing was taken
	}
	order := c.OrderID
	if order == "" {
		order = p.OrderID
	}
	if msg := refundProblem(p, c); msg != "" {
		return []any{failed(p, c, OpRefund, ReasonError, "", msg)}, nil
	}
	amount := refundAmount(p, c)
	req := RefundRequestedV1{RefundID: c.RefundID, PaymentID: p.ID, OrderID: order, Amount: amount,
		Currency: amount.Currency, Reason: c.Reason, RequestedAt: c.At}
	if c.Result.Status != Approved {
		return []any{req, failed(p, c, OpRefund, ReasonError, c.Result.DeclineCode, c.Result.Message)}, nil
	}
	return []any{req, PaymentRefundedV1{PaymentID: p.ID, RefundID: c.RefundID, OrderID: order, Amount: amount,
		Currency: amount.Currency, RefundedAt: c.At}}, nil
}

func evolve(p Payment, e any) Payment {
	switch e := e.(type) {
	case PaymentRequestedV1:
		p.ID, p.CheckoutID, p.CustomerID, p.Amount, p.AuthorizeSeen = e.PaymentID, e.CheckoutID, e.CustomerID, e.Amount, true
		p.Refunded = acme.Money{Currency: e.Amount.Currency}
	case PaymentAuthorizedV1:
		p.Status, p.AuthorizationID = StatusAuthorized, e.AuthorizationID
	case PaymentFailedV1:
		if e.Operation == string(OpAuthorize) && p.Status == StatusNew {
			p.Status = StatusFailed
		}
		if p.ID == "" {
			p.ID = e.PaymentID
		}
	case PaymentSucceededV1:
		p.Status, p.OrderID, p.CaptureID = StatusCaptured, e.OrderID, e.ProcessorReference
	case PaymentVoidedV1:
		p.Status = StatusVoided
		if p.ID == "" {
			p.ID, p.CheckoutID = e.PaymentID, e.CheckoutID
		}
	case PaymentRefundedV1:
		p.Status = StatusRefunded
		p.Refunded = p.Refunded.Add(e.Amount)
		p.Refunded.Currency = e.Amount.Currency
	}
	return p
}
