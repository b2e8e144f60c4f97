// Package payments is the Payment Processing System: it authorizes, captures,
// voids and refunds payments through a Processor (the built-in card processor or
// Stripe) and records each payment as an event stream "payment-<paymentId>".
//
// Language: a payment is authorized (money held), then captured (taken) or
// voided (released); a captured payment may be refunded. The checkout saga sends
// AuthorizePayment, CapturePayment and VoidPayment; ordering sends VoidPayment and
// RefundPayment. They arrive as commands through Host.Consume (one handler group).
//
// Invariants:
//   - Each operation happens at most once however often it is requested (saga
//     retry, webhook, duplicate delivery): the decider ignores a request the
//     payment's state has moved past, and every processor call carries the
//     idempotency key "<paymentId>:<operation>", so a redelivery after a crash
//     between the processor call and the commit gets the first answer back.
//   - Capturing a payment that is voided, failed or unknown fails with
//     PaymentFailed{operation: capture, reason: payment_error}.
//   - A VoidPayment that arrives before the AuthorizePayment (a saga step timed
//     out) voids the payment first: the late authorization is refused
//     (PaymentFailed payment_error) and nothing is held.
//   - A RefundPayment on an authorized, uncaptured payment voids it; a payment is
//     refunded once (the first RefundPayment's amount, default all); later ones
//     decide nothing.
//   - Processor I/O happens in the consumer before deciding; the decider gets the
//     processor's Result in the command and stays pure.
//
// In: AuthorizePayment, CapturePayment, VoidPayment, RefundPayment (commands).
// Out: PaymentRequested, PaymentAuthorized, PaymentFailed, PaymentSucceeded,
// PaymentVoided, RefundRequested, PaymentRefunded (alias RefundProcessed).
//
// HTTP: POST /api/v1/payments/webhooks/stripe (Stripe-Signature required).
package payments

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"acme"
	"acme/es"
)

// Config configures the module; zero values mean the built-in card processor,
// the system clock and no Stripe webhooks (every webhook is refused with 400).
type Config struct {
	// Processor moves the money; nil: Stripe when StripeKey is set, else the
	// built-in card processor.
	Processor Processor
	// StripeKey and StripeURL (the API base URL; "" for Stripe's) configure the
	// Stripe adapter when Processor is nil.
	StripeKey, StripeURL string
	// StripeWebhookSecret verifies Stripe-Signature on webhooks.
	StripeWebhookSecret string
	Clock               acme.Clock
}

// Module is the payments bounded context.
type Module struct {
	cfg Config
	h   es.Host
	agg *es.Aggregate[Payment, Command]
}

// New returns the payments module.
func New(cfg Config) *Module {
	switch {
	case cfg.Processor != nil:
	case cfg.StripeKey != "":
		cfg.Processor = NewStripe(cfg.StripeKey, cfg.StripeURL, nil)
	default:
		cfg.Processor = NewCardProcessor()
	}
	if cfg.Clock == nil {
		cfg.Clock = acme.SystemClock{}
	}
	return &Module{cfg: cfg}
}

// Name implements es.Module.
func (m *Module) Name() string { return "payments" }

// Messages implements es.Module.
func (m *Module) Messages() []es.MessageType { return messages() }

//go:embed migrations/*.sql
var migrations embed.FS

// Start implements es.Module: it migrates the built-in card processor's
// tables and registers the command consumer.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	m.h = h
	if err := es.MigrateDir(ctx, h.Store(), "payments", migrations, "migrations"); err != nil {
		return err
	}
	if cp, ok := m.cfg.Processor.(*CardProcessor); ok && cp.Ledger == nil {
		// one processor for every process sharing the store (and across restarts)
		cp.Ledger = SQLLedger{Store: h.Store()}
	}
	m.agg = &es.Aggregate[Payment, Command]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID,
		StreamType: "payment", Decider: Decider, SnapshotEvery: 0}
	h.Consume("commands", []string{AuthorizePayment.Name(), CapturePayment.Name(), VoidPayment.Name(), RefundPayment.Name()}, m.handle)
	return nil
}

// StreamID is the stream of a payment.
func StreamID(paymentID string) string { return "payment-" + paymentID }

// command decodes a bus message into a Command.
func (m *Module) command(msg es.Message) (Command, error) {
	c := Command{At: m.cfg.Clock.Now()}
	switch msg.Type {
	case AuthorizePayment.Name():
		v, err := AuthorizePayment.DecodeMessage(msg)
		if err != nil {
			return c, err
		}
		c.Op, c.PaymentID, c.CheckoutID, c.CustomerID, c.Amount, c.Method = OpAuthorize, v.PaymentID, v.CheckoutID, v.CustomerID, v.Amount, v.PaymentMethod
	case CapturePayment.Name():
		v, err := CapturePayment.DecodeMessage(msg)
		if err != nil {
			return c, err
		}
		c.Op, c.PaymentID, c.CheckoutID, c.OrderID = OpCapture, v.PaymentID, v.CheckoutID, v.OrderID
	case VoidPayment.Name():
		v, err := VoidPayment.DecodeMessage(msg)
		if err != nil {
			return c, err
		}
		c.Op, c.PaymentID, c.CheckoutID, c.Reason = OpVoid, v.PaymentID, v.CheckoutID, v.Reason
	case RefundPayment.Name():
		v, err := RefundPayment.DecodeMessage(msg)
		if err != nil {
			return c, err
		}
		c.Op, c.PaymentID, c.OrderID, c.Amount, c.Reason = OpRefund, v.PaymentID, v.OrderID, v.Amount, v.Reason
		c.RefundID = m.h.NewID()
	default:
		return c, fmt.Errorf("payments: unexpected message %s", msg.Type)
	}
	if c.PaymentID == "" {
		return c, fmt.Errorf("payments: %s without a paymentId", msg.Type)
	}
	return c, nil
}

// handle applies one command message: plan, call the processor, decide.
func (m *Module) handle(ctx context.Context, msg es.Message) (es.Commit, error) {
	c, err := m.command(msg)
	if err != nil {
		return es.Commit{}, es.Permanent(err)
	}
	app, err := m.execute(ctx, c)
	if err != nil || len(app.Events) == 0 {
		return es.Commit{}, err
	}
	return es.Commit{Appends: []es.Append{app}}, nil
}

// execute loads the payment, makes the processor call the command needs (if
// any, unless c already carries the Result, as a webhook does), and decides.
func (m *Module) execute(ctx context.Context, c Command) (es.Append, error) {
	stream := StreamID(c.PaymentID)
	cur, err := m.agg.Load(ctx, stream, es.StreamQuery{})
	if err != nil {
		return es.Append{}, err
	}
	if op := Plan(cur.State, c); op != OpNone && (c.Result == nil || c.Result.Op != op) {
		r, err := Call(ctx, m.cfg.Processor, op, cur.State, c)
		if err != nil {
			return es.Append{}, err
		}
		c.Result = &r
	}
	app, _, err := m.agg.Decide(ctx, stream, c)
	if errors.Is(err, errNeedsProcessor) {
		return es.Append{}, fmt.Errorf("payment %s: %w", c.PaymentID, err) // the state moved: retried
	}
	return app, err
}

// Call makes the processor call op for command c on payment p, with the
// idempotency key "<paymentId>:<op>".
func Call(ctx context.Context, proc Processor, op Op, p Payment, c Command) (Result, error) {
	key := c.PaymentID + ":" + string(op)
	var (
		r   Result
		err error
	)
	switch op {
	case OpAuthorize:
		r, err = proc.Authorize(ctx, AuthorizeRequest{IdempotencyKey: key, PaymentID: c.PaymentID, CustomerID: c.CustomerID,
			Amount: c.Amount, Token: c.Method.Token})
	case OpCapture:
		r, err = proc.Capture(ctx, CaptureRequest{IdempotencyKey: key, PaymentID: c.PaymentID, OrderID: c.OrderID,
			AuthorizationID: p.AuthorizationID, Amount: p.Amount})
	case OpVoid:
		r, err = proc.Void(ctx, VoidRequest{IdempotencyKey: key, PaymentID: c.PaymentID, AuthorizationID: p.AuthorizationID})
	case OpRefund:
		r, err = proc.Refund(ctx, RefundRequest{IdempotencyKey: key, PaymentID: c.PaymentID, AuthorizationID: p.AuthorizationID,
			Amount: refundAmount(p, c)})
	default:
		return Result{}, fmt.Errorf("payments: no processor call for %q", op)
	}
	if err != nil {
		return Result{}, err
	}
	r.Op = op
	return r, nil
}
