package platform

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"acme/es"
)

// Close is prompt however many consumers are idle in a pull.
func TestCloseIsPrompt(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	p := newPlatform(t, bus, nil)
	h := p.Host("beta", openStore(t, dir, "beta"))
	for i := range 10 {
		h.Consume(fmt.Sprintf("c%d", i), []string{"ThingHappened"}, func(context.Context, es.Message) (es.Commit, error) { return es.Commit{}, nil })
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Fatalf("Close took %s with 10 idle consumers", el)
	}
}

// A handler stuck on a slow service does not hold Close for its whole
// timeout: StopGrace after Close began its context ends, the message goes
// back to the bus (not towards the dead letters), and the next start
// applies it.
func TestCloseStopsAStuckHandlerAfterTheGrace(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	started := make(chan struct{}, 1)
	p := newPlatform(t, bus, func(c *Config) { c.StopGrace = 300 * time.Millisecond; c.MaxDeliveries = 1 })
	p.Host("alpha", alpha)
	p.Host("beta", beta).Consume("slow", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		started <- struct{}{}
		<-ctx.Done() // a card processor that never answers
		return es.Commit{}, ctx.Err()
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "t1", 1)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never ran")
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Close took %s with a stuck handler (grace 300ms)", el)
	}
	var calls atomic.Int64
	p2 := newPlatform(t, bus, nil)
	p2.Host("alpha", alpha)
	p2.Host("beta", beta).Consume("slow", []string{"ThingHappened"}, countingHandler(&calls))
	if err := p2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the next start applies the message", func() bool { return applied(t, beta, "t1") == 1 })
	if dls, err := bus.DeadLetters(context.Background(), 0); err != nil || len(dls) != 0 {
		t.Fatalf("dead letters %v %v: a stop is not a failure", dls, err)
	}
}
