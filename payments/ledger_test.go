package payments

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"acme/es"
	"acme/postgres"
	"acme/sqlite"
	"acme/testenv"
)

// ledgerStores opens a migrated payments store of each kind, embedded and
// server mode.
func ledgerStores() map[string]func(t *testing.T) es.Store {
	migrated := func(t *testing.T, s es.Store) es.Store {
		if err := es.MigrateDir(context.Background(), s, "payments", migrations, "migrations"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	return map[string]func(t *testing.T) es.Store{
		"sqlite": func(t *testing.T) es.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "payments.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return migrated(t, s)
		},
		"postgres": func(t *testing.T) es.Store {
			url, schema := testenv.PostgresSchema(t, "paymentstest_")
			s, err := postgres.Open(context.Background(), url, schema)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return migrated(t, s)
		},
	}
}

// TestCardProcessorOnSQLLedger: the processor's contract holds on the shared
// books, and two processors on one store (two processes) are one processor:
// an authorization of one is captured by the other and refunded by the
// first, and a key answered by one is answered alike by the other, once.
func TestCardProcessorOnSQLLedger(t *testing.T) {
	for name, open := range ledgerStores() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			processorContract(t, &CardProcessor{Ledger: SQLLedger{Store: st}}, true)

			ctx := context.Background()
			a, b := &CardProcessor{Ledger: SQLLedger{Store: st}}, &CardProcessor{Ledger: SQLLedger{Store: st}}
			auth, err := a.Authorize(ctx, AuthorizeRequest{IdempotencyKey: "x:authorize", PaymentID: "x", Amount: usd(1500), Token: "tok_visa"})
			if err != nil || auth.Status != Approved {
				t.Fatalf("authorize: %+v %v", auth, err)
			}
			if c, err := b.Capture(ctx, CaptureRequest{IdempotencyKey: "x:capture", PaymentID: "x", AuthorizationID: auth.ID, Amount: usd(1500)}); err != nil || c.Status != Approved {
				t.Fatalf("capture by the other process: %+v %v", c, err)
			}
			if v, _ := a.Void(ctx, VoidRequest{IdempotencyKey: "x:void", PaymentID: "x", AuthorizationID: auth.ID}); v.Status != Refused {
				t.Fatalf("void of what the other process captured: %+v", v)
			}
			if r, err := a.Refund(ctx, RefundRequest{IdempotencyKey: "x:refund", PaymentID: "x", AuthorizationID: auth.ID, Amount: usd(1500)}); err != nil || r.Status != Approved {
				t.Fatalf("refund of what the other process captured: %+v %v", r, err)
			}
			if r, _ := b.Refund(ctx, RefundRequest{IdempotencyKey: "x:refund2", PaymentID: "x", AuthorizationID: auth.ID, Amount: usd(1)}); r.Status != Refused {
				t.Fatalf("a refund beyond the capture: %+v", r)
			}

			// The same key from both at once: one effect, one answer.
			c, d := &CardProcessor{Ledger: SQLLedger{Store: st}}, &CardProcessor{Ledger: SQLLedger{Store: st}}
			var wg sync.WaitGroup
			answers := make([]Result, 8)
			for i := range answers {
				p := c
				if i%2 == 1 {
					p = d
				}
				wg.Go(func() {
					var err error
					answers[i], err = p.Authorize(ctx, AuthorizeRequest{IdempotencyKey: "y:authorize", PaymentID: "y", Amount: usd(700), Token: "tok_visa"})
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			for _, r := range answers {
				if r != answers[0] || r.Status != Approved {
					t.Fatalf("answers to one key differ: %+v", answers)
				}
			}
			if n := c.Count(OpAuthorize) + d.Count(OpAuthorize); n != 1 {
				t.Fatalf("one key authorized %d times, want once", n)
			}
		})
	}
}
