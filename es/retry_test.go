package es_test

import (
	"context"
	"errors"
	"testing"

	"acme/es"
)

func TestRetryConflicts(t *testing.T) {
	ctx := context.Background()
	lose := func(times int, then error) (func() error, *int) {
		n := 0
		return func() error {
			n++
			if n <= times {
				return es.ErrConcurrency
			}
			return then
		}, &n
	}
	try, n := lose(3, nil)
	if err := es.RetryConflicts(ctx, 5, try); err != nil || *n != 4 {
		t.Fatalf("won on the fourth try: err %v after %d tries", err, *n)
	}
	try, n = lose(100, nil)
	if err := es.RetryConflicts(ctx, 2, try); !errors.Is(err, es.ErrConcurrency) || *n != 3 {
		t.Fatalf("always losing with 2 retries: err %v after %d tries, want ErrConcurrency after 3", err, *n)
	}
	refusal := errors.New("refused")
	try, n = lose(1, refusal)
	if err := es.RetryConflicts(ctx, 5, try); !errors.Is(err, refusal) || *n != 2 {
		t.Fatalf("a refusal after a lost race: err %v after %d tries", err, *n)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	try, n = lose(100, nil)
	if err := es.RetryConflicts(cancelled, 5, try); !errors.Is(err, context.Canceled) || *n != 1 {
		t.Fatalf("cancelled: err %v after %d tries", err, *n)
	}
}
