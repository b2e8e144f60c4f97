package platform

import (
	"context"
	"errors"
	"time"

	"acme/es"
)

// meteredStore counts a context's commits and appended events and times them
// (acme_store_commits_total, acme_store_appended_events_total,
// acme_store_commit_seconds). Every commit of a context goes through its host's
// store, so the metrics cover HTTP commands and consumers alike.
type meteredStore struct {
	es.Store
	m       *metrics
	context string
}

// Commit implements es.Store.
func (s meteredStore) Commit(ctx context.Context, c es.Commit) (es.Result, error) {
	start := time.Now()
	res, err := s.Store.Commit(ctx, c)
	outcome := "ok"
	switch {
	case err == nil:
		s.m.storeEvents.WithLabelValues(s.context).Add(float64(len(res.Events)))
	case errors.Is(err, es.ErrConcurrency):
		outcome = "concurrency"
	case errors.Is(err, es.ErrDuplicate):
		outcome = "duplicate"
	default:
		outcome = "error"
	}
	s.m.storeCommits.WithLabelValues(s.context, outcome).Inc()
	s.m.storeCommitLatency.WithLabelValues(s.context).Observe(time.Since(start).Seconds())
	return res, err
}
