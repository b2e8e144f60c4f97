package platform

import (
	"context"
	"errors"
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
// timeout: StopGrace after Close began its context ends and the message goes
// back to the bus, at the cost of one delivery (not of every pull the
// closing process still makes): the next start has the rest of
// MaxDeliveries for it.
func TestCloseStopsAStuckHandlerAfterTheGrace(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	started := make(chan struct{}, 1)
	p := newPlatform(t, bus, func(c *Config) { c.StopGrace = 300 * time.Millisecond; c.MaxDeliveries = 3 })
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
	var runs atomic.Int64
	p2 := newPlatform(t, bus, func(c *Config) { c.MaxDeliveries = 3 })
	p2.Host("alpha", alpha)
	p2.Host("beta", beta).Consume("slow", []string{"ThingHappened"}, func(context.Context, es.Message) (es.Commit, error) {
		runs.Add(1)
		return es.Commit{}, errors.New("card processor down")
	})
	if err := p2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var dls []es.DeadLetter
	eventually(t, 20*time.Second, "the failing message's dead letter", func() bool {
		var err error
		dls, err = bus.DeadLetters(context.Background(), 0)
		return err == nil && len(dls) == 1
	})
	if runs.Load() != 2 || dls[0].Deliveries != 3 {
		t.Fatalf("after the stop the handler ran %d times and the letter counts %d deliveries; want 2 of 3 left", runs.Load(), dls[0].Deliveries)
	}
}

// Work queued in a consumer's lanes when Close begins is not started: it
// goes back to the bus, and Close does not wait a grace for each.
func TestCloseDoesNotStartQueuedWork(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	var started atomic.Int64
	p := newPlatform(t, bus, func(c *Config) {
		c.StopGrace = 300 * time.Millisecond
		c.KeyedWorkers = map[string]int{"beta.slow": 2}
	})
	p.Host("alpha", alpha)
	p.Host("beta", beta).Consume("slow", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		started.Add(1)
		<-ctx.Done()
		return es.Commit{}, ctx.Err()
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // one stream: one lane, in order
		appendThing(t, alpha, "same", i)
	}
	eventually(t, 10*time.Second, "the first handler", func() bool { return started.Load() >= 1 })
	time.Sleep(200 * time.Millisecond) // the others reach the lane's queue
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second || started.Load() != 1 {
		t.Fatalf("Close took %s and started %d handlers; want one grace and 1", el, started.Load())
	}
}
