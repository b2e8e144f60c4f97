package platform

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
)

// The platform over an external NATS server (server mode): events of two types
// and a command reach their consumers exactly once; dead letters work.
func TestExternalBusFlow(t *testing.T) {
	bus := externalBus(t)
	dir := t.TempDir()
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, bus, func(c *Config) { c.MaxDeliveries = 2 })
	p.Host("alpha", alpha)
	hb := p.Host("beta", beta)
	var calls, cmds, failing atomic.Int64
	count := countingHandler(&calls)
	hb.Consume("mixed", []string{"ThingHappened", "ThingRenamed", "DoThing"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		if m.Type == "DoThing" {
			cmds.Add(1)
		}
		return count(ctx, m)
	})
	hb.Consume("failing", []string{"ThingRenamed"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		failing.Add(1)
		return es.Commit{}, fmt.Errorf("always fails")
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendThing(t, alpha, "a", 1)
	ren := ThingRenamed.New(acme.NewID(), thingRenamed{ThingID: "b", Name: "B"}, es.Metadata{})
	cmd := DoThing.New(acme.NewID(), doThing{ThingID: "c"}, es.Metadata{})
	res, err := alpha.Commit(context.Background(), es.Commit{Appends: []es.Append{
		{StreamID: "thing-b", Expected: es.AnyVersion, Events: []es.Event{ren}},
		{StreamID: "c.outbox", Expected: es.AnyVersion, Events: []es.Event{cmd}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": res.Position}, []string{"beta.mixed"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if n := applied(t, beta, id); n != 1 {
			t.Fatalf("%s applied %d times, want 1", id, n)
		}
	}
	if cmds.Load() != 1 {
		t.Fatalf("command handled %d times", cmds.Load())
	}
	eventually(t, 10*time.Second, "the dead letter", func() bool {
		dls, _ := bus.DeadLetters(context.Background(), 0)
		return len(dls) == 1 && dls[0].Consumer == "beta.failing" && dls[0].Deliveries == 2
	})
}
