package cart

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"acme"
	"acme/httpapi"
)

// recordingAwaiter is caught up at once (or fails with err) and records the
// read models it was asked to wait for.
type recordingAwaiter struct {
	err   error
	reads []string
}

func (a *recordingAwaiter) Await(_ context.Context, _ httpapi.Position, reads []string) error {
	a.reads = append(a.reads, reads...)
	return a.err
}

func (a *recordingAwaiter) Head(context.Context, string) (int64, bool, error) { return 7, true, nil }

// TestWithCatchUpEachSource: a product created and restocked just before is
// first not found (the catalog read model is behind), then out of stock (the
// stock read model is behind too): both catch up, and the command succeeds.
// A source already caught up is not waited for twice.
func TestWithCatchUpEachSource(t *testing.T) {
	productID := acme.NewID()
	refusal := func(code string) error { return acme.Errorf(code, "refused") }
	tests := []struct {
		name      string
		answers   []error
		awaitErr  error
		wantCode  string
		wantReads []string
		wantRuns  int
	}{
		{name: "not found, then out of stock, then added",
			answers:   []error{refusal(CodeProductNotFound), refusal(CodeOutOfStock), nil},
			wantReads: []string{"cart.catalog", "cart.inventory"}, wantRuns: 3},
		{name: "out of stock twice: inventory is waited for once",
			answers:   []error{refusal(CodeOutOfStock), refusal(CodeInsufficientStock), refusal(CodeOutOfStock)},
			wantCode:  CodeInsufficientStock,
			wantReads: []string{"cart.inventory"}, wantRuns: 2},
		{name: "a refusal no read model answers is not retried",
			answers: []error{refusal(CodeInvalidQuantity)}, wantCode: CodeInvalidQuantity, wantRuns: 1},
		{name: "a bus that cannot be asked: 503, not the refusal",
			answers: []error{refusal(CodeOutOfStock)}, awaitErr: errors.New("nats: connection closed"),
			wantCode: acme.CodeStaleReadModel, wantReads: []string{"cart.inventory"}, wantRuns: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aw := &recordingAwaiter{err: tt.awaitErr}
			api := httpapi.New("catch-up-admin-token")
			api.Awaiter = aw
			m := &Module{api: api}
			runs := 0
			_, _, err := m.withCatchUp(httptest.NewRequest("POST", "/api/v1/cart/items", nil), productID, func() (CartView, int64, error) {
				err := tt.answers[min(runs, len(tt.answers)-1)]
				runs++
				return CartView{}, 0, err
			})
			if acme.ErrorCode(err) != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Fatalf("err = %v, want code %q", err, tt.wantCode)
			}
			if runs != tt.wantRuns || !slices.Equal(aw.reads, tt.wantReads) {
				t.Fatalf("%d runs, waited for %v; want %d runs, %v", runs, aw.reads, tt.wantRuns, tt.wantReads)
			}
		})
	}
}
