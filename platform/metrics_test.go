package platform

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"acme/httpapi"
)

func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	reg := prometheus.NewRegistry()
	var resets atomic.Int64
	p := newPlatform(t, bus, func(c *Config) { c.Metrics = reg })
	p.Host("alpha", alpha).Project(thingsProjection(&resets, 0))
	var calls atomic.Int64
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "t1", 1)
	res := appendThing(t, alpha, "t2", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": res.Position}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"relay published", testutil.ToFloat64(p.metrics.relayPublished.WithLabelValues("alpha")), 2},
		{"relay position", testutil.ToFloat64(p.metrics.relayPosition.WithLabelValues("alpha")), float64(res.Position)},
		{"consumer deliveries", testutil.ToFloat64(p.metrics.consumerDeliveries.WithLabelValues("beta.things")), 2},
		{"projection position", testutil.ToFloat64(p.metrics.projectionPosition.WithLabelValues("alpha.things")), float64(res.Position)},
		{"projection lag", testutil.ToFloat64(p.metrics.projectionLag.WithLabelValues("alpha.things")), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The consumer's two commits went through beta's metered store; they
	// appended no events (read-model writes with an inbox id only).
	if got := testutil.ToFloat64(p.metrics.storeCommits.WithLabelValues("beta", "ok")); got < 2 {
		t.Errorf("beta commits ok = %v, want at least the consumer's 2", got)
	}
	if got := testutil.ToFloat64(p.metrics.storeEvents.WithLabelValues("beta")); got != 0 {
		t.Errorf("beta appended events = %v, want 0", got)
	}
	// Beta's relay reports its lag once it has first read its (empty) log,
	// which may come after alpha's events went through.
	for {
		n, err := testutil.GatherAndCount(reg, "acme_consumer_handler_seconds", "acme_relay_lag")
		if err == nil && n >= 3 { // the histogram, the relay lag of alpha and of beta
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("gathered %d series (%v), want the handler histogram and the relay lag", n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
