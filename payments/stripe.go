package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stripe/stripe-go/v85"
)

// Stripe is the Processor adapter for Stripe: one PaymentIntent per payment,
// created and confirmed with capture_method=manual (the authorization), then
// captured, cancelled (void) or refunded. Every call carries the caller's
// idempotency key, so a retried call is answered by Stripe with the first result.
//
// Tokens: a PaymentMethod id ("pm_...") is used as is; a test token "tok_x" is
// sent as Stripe's matching test PaymentMethod "pm_card_x" (tok_visa →
// pm_card_visa, tok_chargeDeclined → pm_card_chargeDeclined, ...).
//
// Answers: a card_error (HTTP 402) is a decline (its decline_code kept); any
// other 4xx is a refused request (payment_error); 5xx, 429 and network errors
// are transient (the error is returned and the message retried).
type Stripe struct {
	client *stripe.Client
}

// NewStripe returns the adapter for the API key; baseURL overrides Stripe's API
// address (a stripe-mock server in tests; "" for the real API).
func NewStripe(apiKey, baseURL string, httpClient *http.Client) *Stripe {
	cfg := &stripe.BackendConfig{HTTPClient: httpClient, MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
	if baseURL != "" {
		cfg.URL = stripe.String(baseURL)
	}
	backends := &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	}
	return &Stripe{client: stripe.NewClient(apiKey, stripe.WithBackends(backends))}
}

func stripePaymentMethod(token string) string {
	if rest, ok := strings.CutPrefix(token, "tok_"); ok {
		return "pm_card_" + rest
	}
	return token
}

// answer turns a Stripe error into a Result or a transient error.
func answer(op Op, err error) (Result, error) {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return Result{}, fmt.Errorf("stripe %s: %w", op, err)
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		return Result{Op: op, Status: Declined, DeclineCode: string(se.DeclineCode), Message: se.Msg}, nil
	case se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == 0:
		return Result{}, fmt.Errorf("stripe %s: %w", op, err)
	}
	return Result{Op: op, Status: Refused, DeclineCode: string(se.Code), Message: se.Msg}, nil
}

// Authorize implements Processor.
func (s *Stripe) Authorize(ctx context.Context, r AuthorizeRequest) (Result, error) {
	p := &stripe.PaymentIntentCreateParams{
		Amount:             stripe.Int64(r.Amount.Amount),
		Currency:           stripe.String(strings.ToLower(r.Amount.Currency)),
		CaptureMethod:      stripe.String("manual"),
		Confirm:            stripe.Bool(true),
		PaymentMethod:      stripe.String(stripePaymentMethod(r.Token)),
		PaymentMethodTypes: []*string{stripe.String("card")},
		Metadata:           map[string]string{"payment_id": r.PaymentID, "customer_id": r.CustomerID},
	}
	p.SetIdempotencyKey(r.IdempotencyKey)
	pi, err := s.client.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return answer(OpAuthorize, err)
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusRequiresAction, stripe.PaymentIntentStatusCanceled:
		// 3-D Secure and friends need a customer in the loop we do not have.
		return Result{Op: OpAuthorize, Status: Declined, ID: pi.ID, DeclineCode: "authentication_required",
			Message: "the payment needs " + string(pi.Status)}, nil
	}
	return Result{Op: OpAuthorize, Status: Approved, ID: pi.ID}, nil
}

// Capture implements Processor.
func (s *Stripe) Capture(ctx context.Context, r CaptureRequest) (Result, error) {
	p := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(r.Amount.Amount),
		Metadata: map[string]string{"payment_id": r.PaymentID, "order_id": r.OrderID}}
	p.SetIdempotencyKey(r.IdempotencyKey)
	pi, err := s.client.V1PaymentIntents.Capture(ctx, r.AuthorizationID, p)
	if err != nil {
		return answer(OpCapture, err)
	}
	ref := pi.ID
	if pi.LatestCharge != nil && pi.LatestCharge.ID != "" {
		ref = pi.LatestCharge.ID
	}
	return Result{Op: OpCapture, Status: Approved, ID: ref}, nil
}

// Void implements Processor.
func (s *Stripe) Void(ctx context.Context, r VoidRequest) (Result, error) {
	p := &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String("abandoned")}
	p.SetIdempotencyKey(r.IdempotencyKey)
	pi, err := s.client.V1PaymentIntents.Cancel(ctx, r.AuthorizationID, p)
	if err != nil {
		return answer(OpVoid, err)
	}
	return Result{Op: OpVoid, Status: Approved, ID: pi.ID}, nil
}

// Refund implements Processor.
func (s *Stripe) Refund(ctx context.Context, r RefundRequest) (Result, error) {
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(r.AuthorizationID), Amount: stripe.Int64(r.Amount.Amount),
		Metadata: map[string]string{"payment_id": r.PaymentID}}
	p.SetIdempotencyKey(r.IdempotencyKey)
	re, err := s.client.V1Refunds.Create(ctx, p)
	if err != nil {
		return answer(OpRefund, err)
	}
	if re.Status == stripe.RefundStatusFailed || re.Status == stripe.RefundStatusCanceled {
		return Result{Op: OpRefund, Status: Refused, ID: re.ID, Message: "refund " + string(re.Status)}, nil
	}
	return Result{Op: OpRefund, Status: Approved, ID: re.ID}, nil
}
