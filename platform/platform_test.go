package platform

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
)

func TestEventAndCommandFlowExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	p := newPlatform(t, bus, nil)
	p.Host("alpha", alpha)
	hb := p.Host("beta", beta)
	var evCalls, cmdCalls atomic.Int64
	var gotMD atomic.Value
	hb.Consume("things", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		gotMD.Store(es.MetadataFrom(ctx))
		return countingHandler(&evCalls)(ctx, m)
	})
	hb.Consume("do-thing", []string{"DoThing"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
		cmdCalls.Add(1)
		return es.Commit{}, nil
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := appendThing(t, alpha, "t1", 1)
	// A command sent by alpha through its own log (outbox).
	cmd := DoThing.New(acme.NewID(), doThing{ThingID: "t1"}, es.Metadata{})
	if _, err := alpha.Commit(context.Background(), es.Commit{Appends: []es.Append{{StreamID: "t1.outbox", Expected: es.AnyVersion, Events: []es.Event{cmd}}}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Await(ctx, httpapi.Position{"alpha": res.Position + 1}, nil); err != nil {
		t.Fatal(err)
	}
	if n := applied(t, beta, "t1"); n != 1 {
		t.Fatalf("applied = %d after Await, want 1", n)
	}
	eventually(t, 5*time.Second, "the command handled", func() bool { return cmdCalls.Load() == 1 })
	md := gotMD.Load().(es.Metadata)
	if md.CorrelationID != "corr-t1" || md.CausationID != res.Events[0].ID || md.Actor != "admin" {
		t.Fatalf("handler metadata = %+v, want correlation corr-t1, causation %s, actor admin", md, res.Events[0].ID)
	}
}

func TestStartRejectsUnknownTypesAndForeignCommands(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	for _, tc := range []struct{ types []string }{{[]string{"NoSuchMessage"}}, {[]string{"DoThing"}}, {[]string{"ThingNoted"}}} {
		p := newPlatform(t, bus, nil)
		h := p.Host("alpha", openStore(t, dir, "alpha-"+tc.types[0]))
		h.Consume("x", tc.types, func(context.Context, es.Message) (es.Commit, error) { return es.Commit{}, nil })
		if err := p.Start(context.Background()); err == nil {
			t.Fatalf("Start with consumer of %v succeeded, want an error", tc.types)
		}
	}
}

// An internal event stays in its owner's log: the relay passes over it, so
// the events around it are published and nothing is on its subject.
func TestInternalEventsAreNotPublished(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	alpha, beta := openStore(t, dir, "alpha"), openStore(t, dir, "beta")
	migrateSeen(t, beta)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := bus.Subscribe(ctx, es.ConsumerSpec{Name: "test_noted", Subjects: []string{es.SubjectOf(ThingNoted.Spec())}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	p := newPlatform(t, bus, nil)
	p.Host("alpha", alpha)
	var calls atomic.Int64
	p.Host("beta", beta).Consume("things", []string{"ThingHappened"}, countingHandler(&calls))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	noted := ThingNoted.New(acme.NewID(), thingNoted{ThingID: "t1"}, es.Metadata{})
	if _, err := alpha.Commit(ctx, es.Commit{Appends: []es.Append{{StreamID: "thing-t1", StreamType: "thing", Expected: es.AnyVersion, Events: []es.Event{noted}}}}); err != nil {
		t.Fatal(err)
	}
	res := appendThing(t, alpha, "t1", 1)
	if err := p.Await(ctx, httpapi.Position{"alpha": res.Position}, nil); err != nil {
		t.Fatal(err)
	}
	if n := applied(t, beta, "t1"); n != 1 {
		t.Fatalf("the event after the internal one applied %d times, want 1", n)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if d, err := raw.Next(short); err == nil {
		t.Fatalf("the internal event was published: %s", d.Message().Type)
	}
}
