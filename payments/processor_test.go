package payments

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"acme"
	"acme/testenv"
)

// processorContract is what every Processor adapter must do for the payments
// decider: authorize a good card, answer a repeated idempotency key with the
// first answer, capture, void and refund.
func processorContract(t *testing.T, p Processor, stateful bool) {
	ctx := context.Background()
	id := fmt.Sprintf("p%d", time.Now().UnixNano())
	a, err := p.Authorize(ctx, AuthorizeRequest{IdempotencyKey: id + ":authorize", PaymentID: id, Amount: usd(2000), Token: "tok_visa"})
	if err != nil || a.Status != Approved || a.ID == "" {
		t.Fatalf("authorize tok_visa = %+v, %v", a, err)
	}
	a2, err := p.Authorize(ctx, AuthorizeRequest{IdempotencyKey: id + ":authorize", PaymentID: id, Amount: usd(2000), Token: "tok_visa"})
	if err != nil || (stateful && a2.ID != a.ID) {
		t.Fatalf("repeated key gave %+v (first %+v), %v", a2, a, err)
	}
	c, err := p.Capture(ctx, CaptureRequest{IdempotencyKey: id + ":capture", PaymentID: id, AuthorizationID: a.ID, Amount: usd(2000)})
	if err != nil || c.Status != Approved {
		t.Fatalf("capture = %+v, %v", c, err)
	}
	r, err := p.Refund(ctx, RefundRequest{IdempotencyKey: id + ":refund", PaymentID: id, AuthorizationID: a.ID, Amount: usd(2000)})
	if err != nil || r.Status != Approved {
		t.Fatalf("refund = %+v, %v", r, err)
	}
	b, err := p.Authorize(ctx, AuthorizeRequest{IdempotencyKey: id + "b:authorize", PaymentID: id + "b", Amount: usd(500), Token: "tok_mastercard"})
	if err != nil || b.Status != Approved {
		t.Fatalf("authorize tok_mastercard = %+v, %v", b, err)
	}
	v, err := p.Void(ctx, VoidRequest{IdempotencyKey: id + "b:void", PaymentID: id + "b", AuthorizationID: b.ID})
	if err != nil || v.Status != Approved {
		t.Fatalf("void = %+v, %v", v, err)
	}
	if !stateful {
		return
	}
	for tok, code := range map[string]string{"tok_chargeDeclined": "generic_decline", "tok_chargeDeclinedInsufficientFunds": "insufficient_funds"} {
		d, err := p.Authorize(ctx, AuthorizeRequest{IdempotencyKey: id + tok, PaymentID: id + tok, Amount: usd(100), Token: tok})
		if err != nil || d.Status != Declined || d.DeclineCode != code {
			t.Fatalf("authorize %s = %+v, %v; want declined %s", tok, d, err, code)
		}
	}
}

func TestCardProcessor(t *testing.T) {
	p := NewCardProcessor()
	processorContract(t, p, true)
	if n := p.Count(OpCapture); n != 1 {
		t.Fatalf("captures = %d, want 1", n)
	}
	u, err := p.Authorize(context.Background(), AuthorizeRequest{IdempotencyKey: "u", PaymentID: "u", Amount: usd(1), Token: "tok_nope"})
	if err != nil || u.Status != Refused {
		t.Fatalf("unknown token = %+v, %v; want refused", u, err)
	}
	// A captured authorization cannot be voided; a voided one cannot be captured.
	a, _ := p.Authorize(context.Background(), AuthorizeRequest{IdempotencyKey: "x:a", PaymentID: "x", Amount: usd(1), Token: "tok_visa"})
	v, _ := p.Void(context.Background(), VoidRequest{IdempotencyKey: "x:v", AuthorizationID: a.ID})
	c, _ := p.Capture(context.Background(), CaptureRequest{IdempotencyKey: "x:c", AuthorizationID: a.ID, Amount: usd(1)})
	if v.Status != Approved || c.Status != Refused {
		t.Fatalf("void %+v then capture %+v", v, c)
	}
}

func TestCardProcessorInjectedFailureAndLatency(t *testing.T) {
	boom := errors.New("processor down")
	calls := 0
	p := &CardProcessor{Latency: 20 * time.Millisecond, Fail: func(op Op, key string) error {
		calls++
		if calls == 1 {
			return boom
		}
		return nil
	}}
	start := time.Now()
	if _, err := p.Authorize(context.Background(), AuthorizeRequest{IdempotencyKey: "k", PaymentID: "k", Amount: usd(1), Token: "tok_visa"}); !errors.Is(err, boom) {
		t.Fatalf("first call err = %v, want injected failure", err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("latency not applied")
	}
	if r, err := p.Authorize(context.Background(), AuthorizeRequest{IdempotencyKey: "k", PaymentID: "k", Amount: usd(1), Token: "tok_visa"}); err != nil || r.Status != Approved {
		t.Fatalf("retry = %+v, %v", r, err)
	}
}

// stripeMock starts stripe-mock on a free port. Outside CI it skips when the
// binary is not installed (go install github.com/stripe/stripe-mock@v0.203.0).
func stripeMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		if gobin := filepath.Join(os.Getenv("HOME"), "go", "bin", "stripe-mock"); fileExists(gobin) {
			bin, err = gobin, nil
		}
	}
	if err != nil {
		if testenv.CI() {
			t.Fatal("stripe-mock is not installed: CI=true requires it (go install github.com/stripe/stripe-mock@v0.203.0)")
		}
		t.Skip("skipping Stripe suite: stripe-mock is not installed (go install github.com/stripe/stripe-mock@v0.203.0)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-http-port", fmt.Sprint(port), "-https-port", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url + "/v1/charges")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not answer at %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestStripeAgainstStripeMock(t *testing.T) {
	url := stripeMock(t)
	rec := &keyRecorder{t: t, next: http.DefaultTransport}
	s := NewStripe("sk_test_123", url, &http.Client{Timeout: 10 * time.Second, Transport: rec})
	// stripe-mock validates every request against Stripe's OpenAPI spec but is
	// stateless: it neither replays idempotent requests nor simulates declines
	// (the decline paths are covered by TestStripeErrorMapping).
	processorContract(t, s, false)
	if rec.posts < 6 {
		t.Fatalf("%d POSTs seen, want every call of the contract", rec.posts)
	}
}

func TestStripeErrorMapping(t *testing.T) {
	// The JSON Stripe sends for a card decline, decoded by stripe-go.
	srv := newStripeErrorServer(t, 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`)
	s := NewStripe("sk_test_123", srv, nil)
	r, err := s.Authorize(context.Background(), AuthorizeRequest{IdempotencyKey: "k", PaymentID: "p", Amount: usd(100), Token: "tok_chargeDeclinedInsufficientFunds"})
	if err != nil || r.Status != Declined || r.DeclineCode != "insufficient_funds" {
		t.Fatalf("402 card_error = %+v, %v", r, err)
	}
	srv = newStripeErrorServer(t, 400, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}}`)
	s = NewStripe("sk_test_123", srv, nil)
	if r, err := s.Capture(context.Background(), CaptureRequest{IdempotencyKey: "k", PaymentID: "p", AuthorizationID: "pi_x", Amount: usd(100)}); err != nil || r.Status != Refused {
		t.Fatalf("400 invalid_request_error = %+v, %v; want refused", r, err)
	}
	srv = newStripeErrorServer(t, 500, `{"error":{"type":"api_error","message":"boom"}}`)
	s = NewStripe("sk_test_123", srv, nil)
	if _, err := s.Authorize(context.Background(), AuthorizeRequest{IdempotencyKey: "k", PaymentID: "p", Amount: usd(100), Token: "tok_visa"}); err == nil || !strings.Contains(err.Error(), "stripe authorize") {
		t.Fatalf("500 = %v, want a transient error", err)
	}
}

// keyRecorder fails the test for a POST without an Idempotency-Key.
type keyRecorder struct {
	t     *testing.T
	next  http.RoundTripper
	posts int
}

func (k *keyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost {
		k.posts++
		if r.Header.Get("Idempotency-Key") == "" {
			k.t.Errorf("POST %s without an Idempotency-Key", r.URL.Path)
		}
	}
	return k.next.RoundTrip(r)
}

func TestParseDelays(t *testing.T) {
	for _, c := range []struct {
		in      string
		latency time.Duration
		delays  map[Op]time.Duration
	}{
		{"", 0, nil},
		{"2s", 2 * time.Second, nil},
		{"authorize=10s", 0, map[Op]time.Duration{OpAuthorize: 10 * time.Second}},
		{" capture=1s , void=250ms,refund=0s", 0, map[Op]time.Duration{OpCapture: time.Second, OpVoid: 250 * time.Millisecond, OpRefund: 0}},
	} {
		latency, delays, err := ParseDelays(c.in)
		if err != nil || latency != c.latency || !maps.Equal(delays, c.delays) {
			t.Errorf("ParseDelays(%q) = %v, %v, %v; want %v, %v", c.in, latency, delays, err, c.latency, c.delays)
		}
	}
	for _, bad := range []string{"soon", "-1s", "charge=1s", "authorize=", "authorize=fast", "capture=-2s", "authorize=1s,"} {
		if _, _, err := ParseDelays(bad); err == nil {
			t.Errorf("ParseDelays(%q) accepted", bad)
		}
	}
}

// TestCardProcessorDelays: a delay holds back its operation only, and gives
// way to the caller's deadline.
func TestCardProcessorDelays(t *testing.T) {
	p := &CardProcessor{Delays: map[Op]time.Duration{OpCapture: time.Hour}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	auth, err := p.Authorize(ctx, AuthorizeRequest{PaymentID: "p1", Token: "tok_visa", Amount: acme.Money{Amount: 100, Currency: "USD"}, IdempotencyKey: "p1:authorize"})
	if err != nil || auth.Status != Approved {
		t.Fatalf("authorize (not delayed): %+v, %v", auth, err)
	}
	if _, err := p.Capture(ctx, CaptureRequest{PaymentID: "p1", AuthorizationID: auth.ID, Amount: acme.Money{Amount: 100, Currency: "USD"}, IdempotencyKey: "p1:capture"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("capture delayed by an hour, deadline in 100 ms: %v", err)
	}
	if p.Count(OpCapture) != 0 {
		t.Fatal("the capture took effect after its caller gave up")
	}
}
