package payments

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"acme"
)

// Processor is the port to whoever moves the money (the built-in card processor,
// Stripe). Every call carries an idempotency key ("<paymentId>:<op>"): a repeated
// call with the same key must have no second effect and return the first answer,
// so a redelivery after a crash never charges twice.
//
// A returned error is transient (network, outage): the caller retries the whole
// message later. A definitive answer, including a decline or a refused request,
// is a Result with a nil error.
type Processor interface {
	Authorize(ctx context.Context, r AuthorizeRequest) (Result, error)
	Capture(ctx context.Context, r CaptureRequest) (Result, error)
	Void(ctx context.Context, r VoidRequest) (Result, error)
	Refund(ctx context.Context, r RefundRequest) (Result, error)
}

// AuthorizeRequest holds amount on the payment method given by Token.
type AuthorizeRequest struct {
	IdempotencyKey string
	PaymentID      string
	CustomerID     string
	Amount         acme.Money
	Token          string
}

// CaptureRequest takes the money held by an authorization.
type CaptureRequest struct {
	IdempotencyKey  string
	PaymentID       string
	OrderID         string
	AuthorizationID string
	Amount          acme.Money
}

// VoidRequest releases an authorization.
type VoidRequest struct {
	IdempotencyKey  string
	PaymentID       string
	AuthorizationID string
}

// RefundRequest gives back captured money.
type RefundRequest struct {
	IdempotencyKey  string
	PaymentID       string
	AuthorizationID string
	Amount          acme.Money
}

// Outcome of a processor call.
type Outcome string

const (
	Approved Outcome = "approved"
	Declined Outcome = "declined" // the card said no (PaymentFailed payment_declined)
	Refused  Outcome = "refused"  // the request cannot succeed (PaymentFailed payment_error)
)

// Result is a processor's definitive answer.
type Result struct {
	Op          Op
	Status      Outcome
	ID          string // authorization / capture / refund reference at the processor
	DeclineCode string // e.g. insufficient_funds
	Message     string
}

// CardProcessor is the built-in processor with the familiar test tokens:
// tok_visa and tok_mastercard authorize and capture; tok_chargeDeclined is
// declined (decline code generic_decline); tok_chargeDeclinedInsufficientFunds is
// declined with decline code insufficient_funds; any other token is refused
// (PaymentFailed reason payment_error, decline code invalid_token), as a real
// processor answers an unknown token with an invalid-request error.
//
// It keeps its books (authorizations, and the first answer to each
// idempotency key, which a repeated key gets again) in Ledger: in memory
// when nil; the payments module gives it the payments store's tables
// (SQLLedger), shared by every process, as a real processor is one service
// whoever calls it. Latency and Fail inject delay and transient failures for
// tests.
type CardProcessor struct {
	// Latency is added to every call.
	Latency time.Duration
	// Delays adds a latency to the calls of one operation (on top of Latency):
	// a slow authorization or capture, to see a saga step time out.
	Delays map[Op]time.Duration
	// Fail, when set, is asked before every call; a non-nil error is returned as a
	// transient failure (nothing happens at the processor).
	Fail func(op Op, key string) error
	// Ledger keeps the books; nil: in this process's memory.
	Ledger CardLedger

	mu     sync.Mutex
	memory memoryLedger
	counts map[Op]int // effective operations of this process (replays not counted)
}

// ParseDelays reads the built-in processor's latencies: a duration for every
// call ("2s"), or operations with theirs ("authorize=10s,capture=500ms"; the
// operations are authorize, capture, void and refund). It returns Latency and
// Delays; "" is none.
func ParseDelays(s string) (time.Duration, map[Op]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil, nil
	}
	if !strings.Contains(s, "=") {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, nil, fmt.Errorf("%q: want a duration such as 2s, or operation=duration pairs such as authorize=10s,capture=1s", s)
		}
		return d, nil, nil
	}
	delays := map[Op]time.Duration{}
	for _, part := range strings.Split(s, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		op := Op(strings.TrimSpace(name))
		switch op {
		case OpAuthorize, OpCapture, OpVoid, OpRefund:
		default:
			return 0, nil, fmt.Errorf("%q: unknown operation %q (authorize, capture, void or refund)", s, name)
		}
		d, err := time.ParseDuration(strings.TrimSpace(val))
		if err != nil || d < 0 {
			return 0, nil, fmt.Errorf("%q: %s: want a duration such as 10s", s, name)
		}
		delays[op] = d
	}
	return 0, delays, nil
}

// NewCardProcessor returns a built-in card processor.
func NewCardProcessor() *CardProcessor { return &CardProcessor{} }

// Count returns how many times op took effect (replayed keys are not counted).
func (p *CardProcessor) Count(op Op) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[op]
}

func (p *CardProcessor) call(ctx context.Context, op Op, key, authID string, decide func(a *CardAuth) (Result, *CardAuth)) (Result, error) {
	if d := p.Latency + p.Delays[op]; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, ctx.Err()
		case <-t.C:
		}
	}
	if p.Fail != nil {
		if err := p.Fail(op, key); err != nil {
			return Result{}, fmt.Errorf("card processor %s: %w", op, err)
		}
	}
	var ledger CardLedger = &p.memory
	if p.Ledger != nil {
		ledger = p.Ledger
	}
	r, fresh, err := ledger.Do(ctx, key, authID, func(a *CardAuth) (Result, *CardAuth) {
		r, next := decide(a)
		r.Op = op
		return r, next
	})
	if err != nil {
		return Result{}, err
	}
	if fresh && r.Status == Approved {
		p.mu.Lock()
		if p.counts == nil {
			p.counts = map[Op]int{}
		}
		p.counts[op]++
		p.mu.Unlock()
	}
	return r, nil
}

// Authorize implements Processor.
func (p *CardProcessor) Authorize(ctx context.Context, r AuthorizeRequest) (Result, error) {
	id := "auth_" + r.PaymentID
	return p.call(ctx, OpAuthorize, r.IdempotencyKey, id, func(*CardAuth) (Result, *CardAuth) {
		switch r.Token {
		case "tok_visa", "tok_mastercard":
			return Result{Status: Approved, ID: id}, &CardAuth{Amount: r.Amount}
		case "tok_chargeDeclined":
			return Result{Status: Declined, DeclineCode: "generic_decline", Message: "Your card was declined."}, nil
		case "tok_chargeDeclinedInsufficientFunds":
			return Result{Status: Declined, DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds."}, nil
		}
		return Result{Status: Refused, DeclineCode: "invalid_token", Message: "unknown card token"}, nil
	})
}

// known is the authorization id's record. An id this processor issued
// ("auth_...") that its books do not hold is an authorization from before
// they were kept (the memory of an earlier run), still open: the payment
// decider never asks twice for what it did.
func known(id string, a *CardAuth) *CardAuth {
	if a == nil && strings.HasPrefix(id, "auth_") {
		return &CardAuth{}
	}
	return a
}

// Capture implements Processor.
func (p *CardProcessor) Capture(ctx context.Context, r CaptureRequest) (Result, error) {
	return p.call(ctx, OpCapture, r.IdempotencyKey, r.AuthorizationID, func(a *CardAuth) (Result, *CardAuth) {
		a = known(r.AuthorizationID, a)
		switch {
		case a == nil:
			return Result{Status: Refused, Message: "no such authorization"}, nil
		case a.Voided:
			return Result{Status: Refused, Message: "the authorization was voided"}, nil
		case a.Captured:
			return Result{Status: Refused, Message: "the authorization was already captured"}, nil
		}
		next := *a
		next.Captured = true
		if next.Amount.Amount == 0 {
			next.Amount = r.Amount
		}
		return Result{Status: Approved, ID: "ch_" + r.PaymentID}, &next
	})
}

// Void implements Processor.
func (p *CardProcessor) Void(ctx context.Context, r VoidRequest) (Result, error) {
	return p.call(ctx, OpVoid, r.IdempotencyKey, r.AuthorizationID, func(a *CardAuth) (Result, *CardAuth) {
		a = known(r.AuthorizationID, a)
		switch {
		case a == nil:
			return Result{Status: Refused, Message: "no such authorization"}, nil
		case a.Captured:
			return Result{Status: Refused, Message: "the authorization was captured"}, nil
		}
		next := *a
		next.Voided = true
		return Result{Status: Approved, ID: r.AuthorizationID}, &next
	})
}

// Refund implements Processor.
func (p *CardProcessor) Refund(ctx context.Context, r RefundRequest) (Result, error) {
	return p.call(ctx, OpRefund, r.IdempotencyKey, r.AuthorizationID, func(a *CardAuth) (Result, *CardAuth) {
		a = known(r.AuthorizationID, a)
		if a != nil && a.Amount.Amount == 0 && !a.Captured { // known only by id (see known)
			a = &CardAuth{Captured: true, Amount: r.Amount}
		}
		switch {
		case a == nil || !a.Captured:
			return Result{Status: Refused, Message: "nothing was captured"}, nil
		case a.Refunded+r.Amount.Amount > a.Amount.Amount:
			return Result{Status: Refused, Message: "the refund is larger than the capture"}, nil
		}
		next := *a
		next.Refunded += r.Amount.Amount
		return Result{Status: Approved, ID: "re_" + r.PaymentID}, &next
	})
}
