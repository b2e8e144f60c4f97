package es

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ConflictRetries is how many times the command paths decide again after
// losing a race (ErrConcurrency) before giving up.
const ConflictRetries = 30

// backOff waits before retry attempt (0-based) of a command that lost a race:
// a random time up to 1 ms doubled per attempt, capped at 32 ms, so writers
// contending for one stream spread out instead of colliding again at once
// (with no wait, thirty concurrent restocks of one product exhausted ten
// retries). It returns ctx's error when ctx ends first.
func backOff(ctx context.Context, attempt int) error {
	ceiling := time.Millisecond << min(attempt, 5)
	t := time.NewTimer(rand.N(ceiling) + 50*time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RetryConflicts runs try, and again after a backOff each time it loses a
// race (ErrConcurrency), at most retries times more; it returns try's last
// error (ErrConcurrency when every attempt lost) or ctx's.
func RetryConflicts(ctx context.Context, retries int, try func() error) error {
	for attempt := 0; ; attempt++ {
		err := try()
		if !errors.Is(err, ErrConcurrency) || attempt >= retries {
			return err
		}
		if err := backOff(ctx, attempt); err != nil {
			return err
		}
	}
}
