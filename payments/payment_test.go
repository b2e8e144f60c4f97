package payments

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"acme"
)

var (
	t0   = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	usd  = func(n int64) acme.Money { return acme.Money{Amount: n, Currency: "USD"} }
	visa = PaymentMethod{Type: "card", Token: "tok_visa"}
)

func ok(op Op, id string) *Result { return &Result{Op: op, Status: Approved, ID: id} }

func given(events ...any) Payment {
	var p Payment
	for _, e := range events {
		p = evolve(p, e)
	}
	return p
}

var (
	requested  = PaymentRequestedV1{PaymentID: "p1", CheckoutID: "c1", CustomerID: "u1", Amount: usd(1000), Currency: "USD", RequestedAt: t0}
	authorized = PaymentAuthorizedV1{PaymentID: "p1", CheckoutID: "c1", CustomerID: "u1", Amount: usd(1000), AuthorizationID: "auth_p1", AuthorizedAt: t0}
	captured   = PaymentSucceededV1{PaymentID: "p1", CheckoutID: "c1", OrderID: "o1", Amount: usd(1000), Currency: "USD", ProcessorReference: "ch_p1", CapturedAt: t0}
	voided     = PaymentVoidedV1{PaymentID: "p1", CheckoutID: "c1", Reason: "timeout", VoidedAt: t0}
	refunded   = PaymentRefundedV1{PaymentID: "p1", RefundID: "r1", OrderID: "o1", Amount: usd(1000), Currency: "USD", RefundedAt: t0}
	declined   = PaymentFailedV1{PaymentID: "p1", CheckoutID: "c1", Operation: "authorize", Reason: ReasonDeclined, DeclineCode: "generic_decline", FailedAt: t0}
)

func authorize(r *Result) Command {
	return Command{Op: OpAuthorize, PaymentID: "p1", CheckoutID: "c1", CustomerID: "u1", Amount: usd(1000), Method: visa, At: t0, Result: r}
}
func capture(r *Result) Command {
	return Command{Op: OpCapture, PaymentID: "p1", CheckoutID: "c1", OrderID: "o1", At: t0, Result: r}
}
func void(r *Result) Command {
	return Command{Op: OpVoid, PaymentID: "p1", CheckoutID: "c1", Reason: "timeout", At: t0, Result: r}
}
func refund(amount int64, r *Result) Command {
	return Command{Op: OpRefund, PaymentID: "p1", OrderID: "o1", Amount: usd(amount), Reason: "cancelled", RefundID: "r1", At: t0, Result: r}
}

func TestPaymentDecider(t *testing.T) {
	fail := func(op Op, reason, code, msg string) PaymentFailedV1 {
		f := PaymentFailedV1{PaymentID: "p1", CheckoutID: "c1", Operation: string(op), Reason: reason, DeclineCode: code, Message: msg, FailedAt: t0}
		if op == OpCapture || op == OpRefund {
			f.OrderID = "o1"
		}
		return f
	}
	tests := []struct {
		name  string
		given []any
		when  Command
		plan  Op
		then  []any
		err   error
	}{
		{"authorize approved", nil, authorize(ok(OpAuthorize, "auth_p1")), OpAuthorize, []any{requested, authorized}, nil},
		{"authorize declined", nil, authorize(&Result{Op: OpAuthorize, Status: Declined, DeclineCode: "insufficient_funds", Message: "no"}), OpAuthorize,
			[]any{requested, fail(OpAuthorize, ReasonDeclined, "insufficient_funds", "no")}, nil},
		{"authorize refused is payment_error", nil, authorize(&Result{Op: OpAuthorize, Status: Refused, DeclineCode: "invalid_token", Message: "unknown"}), OpAuthorize,
			[]any{requested, fail(OpAuthorize, ReasonError, "invalid_token", "unknown")}, nil},
		{"authorize without the processor's answer", nil, authorize(nil), OpAuthorize, nil, errNeedsProcessor},
		{"authorize twice acts once", []any{requested, authorized}, authorize(ok(OpAuthorize, "x")), OpNone, nil, nil},
		{"authorize after a decline acts once", []any{requested, declined}, authorize(ok(OpAuthorize, "x")), OpNone, nil, nil},
		{"authorize after an early void is refused", []any{voided}, authorize(nil), OpNone,
			[]any{requested, fail(OpAuthorize, ReasonError, "", "the payment was voided before it was authorized")}, nil},
		{"authorize a bad method", nil, func() Command { c := authorize(nil); c.Method.Type = "cash"; return c }(), OpNone,
			[]any{requested, fail(OpAuthorize, ReasonError, "", "the payment method is not a card with a token")}, nil},
		{"capture", []any{requested, authorized}, capture(ok(OpCapture, "ch_p1")), OpCapture, []any{captured}, nil},
		{"capture twice acts once", []any{requested, authorized, captured}, capture(ok(OpCapture, "again")), OpNone, nil, nil},
		{"capture after void fails", []any{requested, authorized, voided}, capture(nil), OpNone,
			[]any{fail(OpCapture, ReasonError, "", "the payment is VOIDED, not authorized")}, nil},
		{"capture an unknown payment fails", nil, capture(nil), OpNone,
			[]any{fail(OpCapture, ReasonError, "", "the payment is unknown, not authorized")}, nil},
		{"capture refused by the processor", []any{requested, authorized}, capture(&Result{Op: OpCapture, Status: Refused, Message: "expired"}), OpCapture,
			[]any{fail(OpCapture, ReasonError, "", "expired")}, nil},
		{"void", []any{requested, authorized}, void(ok(OpVoid, "auth_p1")), OpVoid, []any{voided}, nil},
		{"void twice acts once", []any{requested, authorized, voided}, void(ok(OpVoid, "x")), OpNone, nil, nil},
		{"void before authorization", nil, void(nil), OpNone, []any{voided}, nil},
		{"void after capture does nothing", []any{requested, authorized, captured}, void(nil), OpNone, nil, nil},
		{"void after a decline does nothing", []any{requested, declined}, void(nil), OpNone, nil, nil},
		{"refund all", []any{requested, authorized, captured}, refund(0, ok(OpRefund, "re_1")), OpRefund,
			[]any{RefundRequestedV1{RefundID: "r1", PaymentID: "p1", OrderID: "o1", Amount: usd(1000), Currency: "USD", Reason: "cancelled", RequestedAt: t0}, refunded}, nil},
		{"refund twice acts once", []any{requested, authorized, captured, refunded}, refund(0, ok(OpRefund, "x")), OpNone, nil, nil},
		{"refund more than captured fails", []any{requested, authorized, captured}, refund(5000, nil), OpNone,
			[]any{fail(OpRefund, ReasonError, "", "the refund amount is more than what was captured")}, nil},
		{"refund before capture voids", []any{requested, authorized}, refund(0, ok(OpVoid, "auth_p1")), OpVoid,
			[]any{PaymentVoidedV1{PaymentID: "p1", CheckoutID: "c1", Reason: "refund before capture: cancelled", VoidedAt: t0}}, nil},
		{"refund a voided payment does nothing", []any{requested, authorized, voided}, refund(0, nil), OpNone, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := given(tt.given...)
			if got := Plan(st, tt.when); got != tt.plan {
				t.Fatalf("plan = %q, want %q", got, tt.plan)
			}
			got, err := decide(st, tt.when)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, tt.then)
			}
		})
	}
}

func TestPaymentStatusAfterEvents(t *testing.T) {
	if s := given(requested, authorized, captured, refunded); s.Status != StatusRefunded || s.Refunded != usd(1000) || s.OrderID != "o1" {
		t.Fatalf("state %+v", s)
	}
	if s := given(voided, PaymentFailedV1{PaymentID: "p1", Operation: "authorize"}); s.Status != StatusVoided || s.AuthorizeSeen {
		t.Fatalf("state %+v", s)
	}
}
