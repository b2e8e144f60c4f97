// Package bustest is the conformance suite of es.Bus implementations: every
// backend (the embedded NATS server, an external NATS) runs the same tests.
package bustest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme"
	"acme/es"
)

// Open returns a fresh bus for one test (its clean-up registered on t). Buses
// returned for one run may share a server: the suite uses unique subjects and
// consumer names per test.
type Open func(t *testing.T) es.Bus

// Run runs the suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b es.Bus)
	}{
		{"RoundTripKeepsEveryAttribute", testRoundTrip},
		{"PublishDeduplicatesByMessageID", testDedup},
		{"DurableResumesAfterClose", testDurableResumes},
		{"ConsumerCreatedLaterReadsEarlierEvents", testReadsFromStart},
		{"FiltersBySubjectAcrossEventsAndCommands", testFilters},
		{"NakRedeliversWithCount", testNak},
		{"TermStopsRedelivery", testTerm},
		{"UnackedIsRedeliveredAfterAckWait", testAckWait},
		{"DeliveriesWaitingToBeTakenAreNotRedelivered", testWaitingNotRedelivered},
		{"CommandWorkQueueHasOneHandlerGroup", testWorkQueue},
		{"SeveralMultiSubjectCommandConsumers", testMultiCommandConsumers},
		{"SharedDurableSplitsWork", testSharedDurable},
		{"PendingWatermarkReached", testPending},
		{"WatermarkOnWorkQueue", testWatermarkWorkQueue},
		{"NoStallUnderLoadWithExplicitAcks", testNoStall},
		{"IdleConsumerWakesPromptly", testIdleWakes},
		{"TryNextGathersReadyDeliveries", testTryNext},
		{"CloseReleasesDeliveriesNotHandedOut", testCloseReleases},
		{"DeadLetters", testDeadLetters},
		{"Lease", testLease},
		{"ClosedBus", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	_ = open // each test opens its own bus
}

var seq atomic.Int64

// owner returns a unique owner token so subjects never collide between tests.
func owner() string { return fmt.Sprintf("o%d%d", time.Now().UnixNano()%1_000_000_000, seq.Add(1)) }

func evt(o, name string) string { return es.EventSubjectPrefix + o + "." + name }
func cmd(o, name string) string { return es.CommandSubjectPrefix + o + "." + name }

func msg(typ string, n int) es.Message {
	data, _ := json.Marshal(map[string]int{"n": n})
	return es.Message{ID: acme.NewID(), Type: typ, SchemaVersion: 1, Source: "test", Subject: "s-1",
		Time: time.Now().UTC().Truncate(time.Microsecond), Data: data, Position: int64(n),
		Metadata: es.Metadata{CorrelationID: "c", CausationID: "k", Actor: "admin", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func publish(t *testing.T, b es.Bus, subject string, ms ...es.Message) {
	t.Helper()
	envs := make([]es.Envelope, len(ms))
	for i, m := range ms {
		envs[i] = es.Envelope{Subject: subject, Message: m}
	}
	if err := b.Publish(ctxT(t, 10*time.Second), envs...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func subscribe(t *testing.T, b es.Bus, name string, ackWait time.Duration, subjects ...string) es.Subscription {
	t.Helper()
	return subscribeSpec(t, b, es.ConsumerSpec{Name: name, Subjects: subjects, AckWait: ackWait})
}

func subscribeSpec(t *testing.T, b es.Bus, spec es.ConsumerSpec) es.Subscription {
	t.Helper()
	name := spec.Name
	s, err := b.Subscribe(ctxT(t, 10*time.Second), spec)
	if err != nil {
		t.Fatalf("subscribe %s: %v", name, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func next(t *testing.T, s es.Subscription, within time.Duration) es.Delivery {
	t.Helper()
	d, err := s.Next(ctxT(t, within))
	if err != nil {
		t.Fatalf("no delivery within %s: %v", within, err)
	}
	return d
}

// none checks that nothing is delivered within d.
func none(t *testing.T, s es.Subscription, d time.Duration) {
	t.Helper()
	got, err := s.Next(ctxT(t, d))
	if err == nil {
		t.Fatalf("unexpected delivery of %s (%s)", got.Message().ID, got.Message().Type)
	}
}

func ack(t *testing.T, d es.Delivery) {
	t.Helper()
	if err := d.Ack(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func testRoundTrip(t *testing.T, b es.Bus) {
	o := owner()
	m := msg("Thing", 7)
	publish(t, b, evt(o, "Thing"), m)
	s := subscribe(t, b, o+"_rt", 0, evt(o, "Thing"))
	d := next(t, s, 5*time.Second)
	got := d.Message()
	if d.Subject() != evt(o, "Thing") {
		t.Errorf("subject = %q, want %q", d.Subject(), evt(o, "Thing"))
	}
	if d.NumDelivered() != 1 {
		t.Errorf("NumDelivered = %d, want 1", d.NumDelivered())
	}
	if !got.Time.Equal(m.Time) {
		t.Errorf("time = %v, want %v", got.Time, m.Time)
	}
	got.Time, m.Time = time.Time{}, time.Time{}
	gj, _ := json.Marshal(got)
	mj, _ := json.Marshal(m)
	if string(gj) != string(mj) {
		t.Errorf("round trip changed the message:\n got %s\nwant %s", gj, mj)
	}
	ack(t, d)
}

func testDedup(t *testing.T, b es.Bus) {
	o := owner()
	m1, m2 := msg("Thing", 1), msg("Thing", 2)
	publish(t, b, evt(o, "Thing"), m1, m2)
	publish(t, b, evt(o, "Thing"), m1) // a relay re-publishing after a crash
	s := subscribe(t, b, o+"_dd", 0, evt(o, "Thing"))
	for _, want := range []es.Message{m1, m2} {
		d := next(t, s, 5*time.Second)
		if d.Message().ID != want.ID {
			t.Fatalf("got %s, want %s", d.Message().ID, want.ID)
		}
		ack(t, d)
	}
	none(t, s, 300*time.Millisecond)
}

func testDurableResumes(t *testing.T, b es.Bus) {
	o := owner()
	publish(t, b, evt(o, "Thing"), msg("Thing", 1))
	s := subscribe(t, b, o+"_dur", 0, evt(o, "Thing"))
	ack(t, next(t, s, 5*time.Second))
	_ = s.Close()
	m2 := msg("Thing", 2)
	publish(t, b, evt(o, "Thing"), m2)
	s2 := subscribe(t, b, o+"_dur", 0, evt(o, "Thing"))
	d := next(t, s2, 5*time.Second)
	if d.Message().ID != m2.ID {
		t.Fatalf("resumed at %d, want the message published after the close", d.Message().Position)
	}
	ack(t, d)
	none(t, s2, 200*time.Millisecond)
}

func testReadsFromStart(t *testing.T, b es.Bus) {
	o := owner()
	publish(t, b, evt(o, "Thing"), msg("Thing", 1), msg("Thing", 2), msg("Thing", 3))
	a := subscribe(t, b, o+"_a", 0, evt(o, "Thing"))
	for i := 1; i <= 3; i++ {
		d := next(t, a, 5*time.Second)
		if d.Message().Position != int64(i) {
			t.Fatalf("order: got %d, want %d", d.Message().Position, i)
		}
		ack(t, d)
	}
	// A second, independent consumer of the same events reads them all too.
	bb := subscribe(t, b, o+"_b", 0, evt(o, "Thing"))
	for i := 1; i <= 3; i++ {
		ack(t, next(t, bb, 5*time.Second))
	}
}

func testFilters(t *testing.T, b es.Bus) {
	o := owner()
	s := subscribe(t, b, o+"_f", 0, evt(o, "A"), cmd(o, "DoB"))
	publish(t, b, evt(o, "Other"), msg("Other", 1))
	publish(t, b, evt(o, "A"), msg("A", 2))
	publish(t, b, cmd(o, "DoB"), msg("DoB", 3))
	seen := map[string]bool{}
	for range 2 {
		d := next(t, s, 5*time.Second)
		seen[d.Message().Type] = true
		ack(t, d)
	}
	if !seen["A"] || !seen["DoB"] {
		t.Fatalf("got %v, want A and DoB", seen)
	}
	none(t, s, 300*time.Millisecond)
}

func testNak(t *testing.T, b es.Bus) {
	o := owner()
	publish(t, b, evt(o, "Thing"), msg("Thing", 1))
	s := subscribe(t, b, o+"_nak", 0, evt(o, "Thing"))
	d := next(t, s, 5*time.Second)
	start := time.Now()
	if err := d.Nak(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d2 := next(t, s, 5*time.Second)
	if time.Since(start) < 150*time.Millisecond {
		t.Errorf("redelivered after %s, want the 200ms delay", time.Since(start))
	}
	if d2.NumDelivered() != 2 || d2.Message().ID != d.Message().ID {
		t.Fatalf("redelivery %s #%d, want %s #2", d2.Message().ID, d2.NumDelivered(), d.Message().ID)
	}
	ack(t, d2)
}

func testTerm(t *testing.T, b es.Bus) {
	o := owner()
	publish(t, b, evt(o, "Thing"), msg("Thing", 1))
	s := subscribe(t, b, o+"_term", time.Second, evt(o, "Thing"))
	if err := next(t, s, 5*time.Second).Term(); err != nil {
		t.Fatal(err)
	}
	none(t, s, 1500*time.Millisecond)
}

func testAckWait(t *testing.T, b es.Bus) {
	o := owner()
	publish(t, b, evt(o, "Thing"), msg("Thing", 1))
	s := subscribe(t, b, o+"_aw", 500*time.Millisecond, evt(o, "Thing"))
	d := next(t, s, 5*time.Second) // never acked: the handler "crashed"
	d2 := next(t, s, 5*time.Second)
	if d2.Message().ID != d.Message().ID || d2.NumDelivered() != 2 {
		t.Fatalf("got %s #%d, want a redelivery of %s", d2.Message().ID, d2.NumDelivered(), d.Message().ID)
	}
	ack(t, d2)
}

// testWaitingNotRedelivered: deliveries a subscription fetched but nobody has
// taken yet (the taker is busy with a slow one) keep their place however long
// past the ack wait; only a taken one that is never settled comes back.
func testWaitingNotRedelivered(t *testing.T, b es.Bus) {
	o := owner()
	var ms []es.Message
	for i := range 5 {
		ms = append(ms, msg("Thing", i+1))
	}
	publish(t, b, evt(o, "Thing"), ms...)
	s := subscribe(t, b, o+"_wt", 300*time.Millisecond, evt(o, "Thing"))
	first := next(t, s, 5*time.Second)
	if err := first.InProgress(); err != nil { // the taker's own heartbeat, once
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := first.InProgress(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	ack(t, first)
	time.Sleep(800 * time.Millisecond) // the rest waited over three ack waits in all
	for range 4 {
		d := next(t, s, 5*time.Second)
		if d.NumDelivered() != 1 {
			t.Fatalf("%s was delivered %d times while it waited to be taken", d.Message().ID, d.NumDelivered())
		}
		ack(t, d)
	}
	none(t, s, 500*time.Millisecond)
}

func testWorkQueue(t *testing.T, b es.Bus) {
	o := owner()
	s := subscribe(t, b, o+"_h", 0, cmd(o, "DoIt"))
	// A second handler group of the same command is refused.
	if s2, err := b.Subscribe(ctxT(t, 5*time.Second), es.ConsumerSpec{Name: o + "_h2", Subjects: []string{cmd(o, "DoIt")}}); err == nil {
		_ = s2.Close()
		t.Fatal("a second consumer of a command subject was accepted")
	}
	publish(t, b, cmd(o, "DoIt"), msg("DoIt", 1))
	ack(t, next(t, s, 5*time.Second))
	none(t, s, 200*time.Millisecond)
}

func testSharedDurable(t *testing.T, b es.Bus) {
	o := owner()
	const n = 40
	s1 := subscribe(t, b, o+"_sh", 0, evt(o, "Thing"))
	s2 := subscribe(t, b, o+"_sh", 0, evt(o, "Thing"))
	var ms []es.Message
	for i := range n {
		ms = append(ms, msg("Thing", i+1))
	}
	publish(t, b, evt(o, "Thing"), ms...)
	var mu sync.Mutex
	got := map[string]int{}
	ctx := ctxT(t, 15*time.Second)
	var wg sync.WaitGroup
	var total atomic.Int64
	for _, s := range []es.Subscription{s1, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for total.Load() < n {
				c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				d, err := s.Next(c)
				cancel()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					continue
				}
				mu.Lock()
				got[d.Message().ID]++
				mu.Unlock()
				_ = d.Ack(ctx)
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d distinct messages delivered, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Fatalf("message %s delivered %d times across the shared consumer", id, c)
		}
	}
}

func testPending(t *testing.T, b es.Bus) {
	o := owner()
	s := subscribe(t, b, o+"_p", 0, evt(o, "Thing"))
	if !caughtUp(t, s) {
		t.Fatal("a consumer with nothing stored is behind")
	}
	publish(t, b, evt(o, "Other"), msg("Other", 9)) // not its subject
	if !caughtUp(t, s) {
		t.Fatal("a message on another subject made the consumer fall behind")
	}
	publish(t, b, evt(o, "Thing"), msg("Thing", 1), msg("Thing", 2))
	// Right after Publish returned: strict (consistency waits rely on it).
	w, err := s.Watermark(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Reached(ctxT(t, 5*time.Second), w); err != nil || ok {
		t.Fatalf("Reached right after a publish = %v, %v; want false", ok, err)
	}
	// Pending is for display: the server may count with a small delay.
	pendingIs := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			n, err := s.Pending(ctxT(t, 5*time.Second))
			if err == nil && n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Pending = %d, %v; want %d", n, err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	pendingIs(2)
	ack(t, next(t, s, 5*time.Second))
	d := next(t, s, 5*time.Second)
	pendingIs(1)
	if caughtUp(t, s) {
		t.Fatal("caught up with one message delivered but unacknowledged")
	}
	ack(t, d)
	pendingIs(0)
	if !caughtUp(t, s) {
		t.Fatal("not caught up after acknowledging everything")
	}
	// A mark is reached even while newer messages wait.
	publish(t, b, evt(o, "Thing"), msg("Thing", 3))
	if ok, _ := s.Reached(ctxT(t, 5*time.Second), w); !ok {
		t.Fatal("an earlier watermark is not reached because of a newer message")
	}
}

// testNoStall guards against the known trap of pull consumers with explicit
// acks stalling for multiples of the 30 s pull expiry under load.
func testNoStall(t *testing.T, b es.Bus) {
	o := owner()
	const n = 3000
	s := subscribe(t, b, o+"_load", 0, evt(o, "Thing"))
	start := time.Now()
	go func() {
		for i := 0; i < n; i += 500 {
			var ms []es.Message
			for j := i; j < i+500; j++ {
				ms = append(ms, msg("Thing", j+1))
			}
			envs := make([]es.Envelope, len(ms))
			for k, m := range ms {
				envs[k] = es.Envelope{Subject: evt(o, "Thing"), Message: m}
			}
			_ = b.Publish(context.Background(), envs...)
		}
	}()
	var maxGap time.Duration
	last := time.Now()
	for i := 0; i < n; i++ {
		d := next(t, s, 10*time.Second)
		maxGap = max(maxGap, time.Since(last))
		last = time.Now()
		ack(t, d)
	}
	if el := time.Since(start); el > 20*time.Second || maxGap > 3*time.Second {
		t.Fatalf("%d messages took %s, longest gap %s: the consumer stalled", n, el, maxGap)
	}
}

func testIdleWakes(t *testing.T, b es.Bus) {
	o := owner()
	s := subscribe(t, b, o+"_idle", 0, evt(o, "Thing"))
	none(t, s, 2500*time.Millisecond) // longer than a pull request's expiry
	publish(t, b, evt(o, "Thing"), msg("Thing", 1))
	start := time.Now()
	ack(t, next(t, s, 5*time.Second))
	if el := time.Since(start); el > time.Second {
		t.Fatalf("an idle consumer took %s to receive a new message", el)
	}
}

func testDeadLetters(t *testing.T, b es.Bus) {
	ctx := ctxT(t, 10*time.Second)
	o := owner()
	before, err := b.DeadLetters(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := msg("Thing", 5)
	if err := b.DeadLetter(ctx, es.DeadLetter{Consumer: o + ".c", Subject: evt(o, "Thing"), Message: m, Error: "boom", Deliveries: 5}); err != nil {
		t.Fatal(err)
	}
	all, err := b.DeadLetters(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(before)+1 {
		t.Fatalf("%d dead letters, want %d", len(all), len(before)+1)
	}
	d := all[len(all)-1]
	if d.ID == "" || d.Consumer != o+".c" || d.Subject != evt(o, "Thing") || d.Error != "boom" || d.Deliveries != 5 ||
		d.Message.ID != m.ID || d.Message.Type != "Thing" || string(d.Message.Data) != string(m.Data) || d.DeadAt.IsZero() {
		t.Fatalf("dead letter = %+v", d)
	}
	// Stored again with its id (a failed retry), it keeps the id; removing
	// the id then removes the older copy, and the newer one stays.
	again := d
	again.Error, again.Deliveries = "boom again", 6
	if err := b.DeadLetter(ctx, again); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveDeadLetter(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	all, err = b.DeadLetters(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(before)+1 || all[len(all)-1].ID != d.ID || all[len(all)-1].Error != "boom again" || all[len(all)-1].Deliveries != 6 {
		t.Fatalf("after storing it again with its id and removing the old copy: %+v", all)
	}
	if err := b.RemoveDeadLetter(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveDeadLetter(ctx, d.ID); !errors.Is(err, es.ErrNotFound) {
		t.Fatalf("removing twice: %v, want ErrNotFound", err)
	}
	after, _ := b.DeadLetters(ctx, 0)
	for _, x := range after {
		if x.ID == d.ID {
			t.Fatal("removed dead letter still listed")
		}
	}
}

func testLease(t *testing.T, b es.Bus) {
	ctx := ctxT(t, 10*time.Second)
	name := "relay." + owner()
	ok, err := b.Lease(ctx, name, "A", 800*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("A: %v %v, want the lease", ok, err)
	}
	if ok, err := b.Lease(ctx, name, "B", 800*time.Millisecond); err != nil || ok {
		t.Fatalf("B while A holds it: %v %v", ok, err)
	}
	if ok, _ := b.Lease(ctx, name, "A", 800*time.Millisecond); !ok {
		t.Fatal("A could not renew")
	}
	if err := b.ReleaseLease(ctx, name, "A"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Lease(ctx, name, "B", 500*time.Millisecond); !ok {
		t.Fatal("B could not take a released lease")
	}
	// B stops renewing: A gets it after the TTL, not before.
	if ok, _ := b.Lease(ctx, name, "A", time.Second); ok {
		t.Fatal("A took B's live lease")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if ok, _ := b.Lease(ctx, name, "A", time.Second); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired lease was never taken over")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testClosed(t *testing.T, b es.Bus) {
	_ = b.Close()
	if err := b.Publish(context.Background(), es.Envelope{Subject: evt(owner(), "X"), Message: msg("X", 1)}); !errors.Is(err, es.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
}

// Several contexts each handle several commands: every handler group is a
// multi-subject consumer of the one work-queue stream (on servers before 2.10,
// one consumer per subject).
func testMultiCommandConsumers(t *testing.T, b es.Bus) {
	o := owner()
	a := subscribe(t, b, o+"_a", 0, cmd(o+"a", "X"), cmd(o+"a", "Y"))
	c := subscribe(t, b, o+"_c", 0, cmd(o+"c", "X"), cmd(o+"c", "Y"), evt(o, "E"))
	publish(t, b, cmd(o+"a", "Y"), msg("Y", 1))
	publish(t, b, cmd(o+"c", "X"), msg("X", 2))
	publish(t, b, evt(o, "E"), msg("E", 3))
	d := next(t, a, 5*time.Second)
	if d.Subject() != cmd(o+"a", "Y") {
		t.Fatalf("a got %s", d.Subject())
	}
	ack(t, d)
	got := map[string]bool{}
	for range 2 {
		d := next(t, c, 5*time.Second)
		got[d.Subject()] = true
		ack(t, d)
	}
	if !got[cmd(o+"c", "X")] || !got[evt(o, "E")] {
		t.Fatalf("c got %v", got)
	}
	none(t, a, 200*time.Millisecond)
	if n, err := c.Pending(ctxT(t, 5*time.Second)); err != nil || n != 0 {
		t.Fatalf("c pending %d, %v", n, err)
	}
}

// caughtUp reports whether s has acknowledged everything stored so far.
func caughtUp(t *testing.T, s es.Subscription) bool {
	t.Helper()
	w, err := s.Watermark(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatalf("watermark: %v", err)
	}
	ok, err := s.Reached(ctxT(t, 5*time.Second), w)
	if err != nil {
		t.Fatalf("reached: %v", err)
	}
	return ok
}

// caughtUp on a command (work-queue) consumer: acknowledged messages are
// removed; one left unacknowledged keeps it behind.
func testWatermarkWorkQueue(t *testing.T, b es.Bus) {
	o := owner()
	s := subscribe(t, b, o+"_wqc", 0, cmd(o, "A"), cmd(o, "B"))
	publish(t, b, cmd(o, "A"), msg("A", 1))
	publish(t, b, cmd(o, "B"), msg("B", 2))
	if caughtUp(t, s) {
		t.Fatal("caught up right after a publish")
	}
	d1 := next(t, s, 5*time.Second)
	if err := d1.Nak(700 * time.Millisecond); err != nil { // failed: waits for a redelivery
		t.Fatal(err)
	}
	ack(t, next(t, s, 5*time.Second))
	if caughtUp(t, s) {
		t.Fatal("caught up with a message waiting for redelivery")
	}
	d1 = next(t, s, 5*time.Second)
	if d1.NumDelivered() != 2 {
		t.Fatalf("got %s #%d, want the redelivery", d1.Message().Type, d1.NumDelivered())
	}
	if err := d1.Term(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if caughtUp(t, s) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not caught up after the last message was terminated")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testTryNext: after a Next, TryNext hands out what is ready without
// waiting, in bus order; with nothing left it returns at once.
func testTryNext(t *testing.T, b es.Bus) {
	o := owner()
	s := subscribeSpec(t, b, es.ConsumerSpec{Name: o + "_try", Subjects: []string{evt(o, "Thing")}, Batch: true})
	if d, ok := s.TryNext(); ok {
		t.Fatalf("TryNext on an empty consumer returned %s", d.Message().ID)
	}
	var ms []es.Message
	for i := 1; i <= 20; i++ {
		ms = append(ms, msg("Thing", i))
	}
	publish(t, b, evt(o, "Thing"), ms...)
	got := []es.Delivery{next(t, s, 5*time.Second)}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(ms) && time.Now().Before(deadline) {
		if d, ok := s.TryNext(); ok {
			got = append(got, d)
		} else {
			time.Sleep(time.Millisecond) // the pull loop refills asynchronously
		}
	}
	if len(got) != len(ms) {
		t.Fatalf("gathered %d of %d deliveries", len(got), len(ms))
	}
	for i, d := range got {
		if d.Message().ID != ms[i].ID {
			t.Fatalf("delivery %d is message %d: out of order", i+1, d.Message().Position)
		}
		ack(t, d)
	}
	if d, ok := s.TryNext(); ok {
		t.Fatalf("TryNext after everything was acknowledged returned %s", d.Message().ID)
	}
	_ = s.Close()
	if _, ok := s.TryNext(); ok {
		t.Fatal("TryNext on a closed subscription returned a delivery")
	}
}

// testCloseReleases: what a subscription fetched but did not hand out when it
// closed goes to the next subscriber of the durable at once, not after the
// ack wait (a minute here), for one-at-a-time and batch subscriptions.
// Redeliveries may come in any order.
func testCloseReleases(t *testing.T, b es.Bus) {
	for _, batch := range []bool{false, true} {
		o := owner()
		var ms []es.Message
		for i := 1; i <= 10; i++ {
			ms = append(ms, msg("Thing", i))
		}
		publish(t, b, evt(o, "Thing"), ms...)
		spec := es.ConsumerSpec{Name: o + "_rel", Subjects: []string{evt(o, "Thing")}, AckWait: time.Minute, Batch: batch}
		s := subscribeSpec(t, b, spec)
		ack(t, next(t, s, 5*time.Second))
		_ = s.Close()
		s2 := subscribeSpec(t, b, spec)
		got := map[int64]bool{}
		for range 9 {
			d := next(t, s2, 10*time.Second)
			p := d.Message().Position
			if p < 2 || p > 10 || got[p] {
				t.Fatalf("batch=%v: got message %d (have %v); want each of 2..10 once", batch, p, got)
			}
			got[p] = true
			ack(t, d)
		}
		_ = s2.Close()
	}
}
