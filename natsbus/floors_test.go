package natsbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"acme/es"
	"acme/natsbus"
)

// number is the n of a testMsg.
func number(t *testing.T, d es.Delivery) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(d.Message().Data, &v); err != nil {
		t.Fatal(err)
	}
	return v.N
}

// embedded opens the embedded bus on dir.
func embedded(ctx context.Context, t *testing.T, dir string, opts ...natsbus.Options) *natsbus.Bus {
	t.Helper()
	b, err := natsbus.Embedded(ctx, dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// subscribe subscribes consumer name to subj.
func subscribe(ctx context.Context, t *testing.T, b *natsbus.Bus, name, subj string) es.Subscription {
	t.Helper()
	sub, err := b.Subscribe(ctx, es.ConsumerSpec{Name: name, Subjects: []string{subj}})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// publishNumbered publishes testMsg(0) … testMsg(n-1) on subj.
func publishNumbered(ctx context.Context, t *testing.T, b *natsbus.Bus, subj string, n int) {
	t.Helper()
	var envs []es.Envelope
	for i := range n {
		envs = append(envs, es.Envelope{Subject: subj, Message: testMsg(i)})
	}
	if err := b.Publish(ctx, envs...); err != nil {
		t.Fatal(err)
	}
}

// ackNext receives n deliveries and acknowledges each.
func ackNext(ctx context.Context, t *testing.T, sub es.Subscription, n int) {
	t.Helper()
	for range n {
		d, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFloor polls the floors bucket until some consumer's checkpointed
// sequence is want.
func waitFloor(t *testing.T, b *natsbus.Bus, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := b.JetStream().KeyValue(ctx, b.StreamName(natsbus.FloorsBucket)) // the prefix names buckets too
	if err != nil {
		t.Fatal(err)
	}
	for {
		keys, _ := kv.Keys(ctx)
		for _, k := range keys {
			if e, err := kv.Get(ctx, k); err == nil && strings.SplitN(string(e.Value()), " ", 2)[0] == want {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no checkpoint %s (keys %v)", want, keys)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A memory consumer lost with the embedded server (a crash) starts again
// after its last checkpoint: what was acknowledged before it is not delivered
// again, and nothing after it is lost.
func TestMemoryConsumerRestartsAfterItsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := natsbus.Options{FloorInterval: 20 * time.Millisecond}
	b := embedded(ctx, t, dir, opts)
	subj := es.EventSubjectPrefix + "fl.Happened"
	publishNumbered(ctx, t, b, subj, 10)
	sub := subscribe(ctx, t, b, "fl_c", subj)
	c, err := b.JetStream().Consumer(ctx, b.StreamName(natsbus.EventsStream), "fl_c")
	if err != nil {
		t.Fatal(err)
	}
	if !c.CachedInfo().Config.MemoryStorage {
		t.Fatal("the embedded bus made a file consumer")
	}
	for i := range 8 {
		d, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i < 6 {
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		} // the last two are delivered, not acknowledged
	}
	waitFloor(t, b, "6")
	// A crash: the server goes without the subscription's closing checkpoint.
	_ = b.Close()
	_ = sub.Close()

	b = embedded(ctx, t, dir, opts)
	defer b.Close()
	sub = subscribe(ctx, t, b, "fl_c", subj)
	defer sub.Close()
	for want := 6; want < 10; want++ {
		d, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := number(t, d); n != want {
			t.Fatalf("after the restart got message %d, want %d", n, want)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A file consumer made by an earlier version becomes a memory consumer that
// starts after its ack floor.
func TestFileConsumerOfAnEarlierVersionBecomesMemory(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := embedded(ctx, t, dir, natsbus.Options{ConsumerState: natsbus.ConsumerStateFile})
	subj := es.EventSubjectPrefix + "fl.Moved"
	publishNumbered(ctx, t, b, subj, 5)
	sub := subscribe(ctx, t, b, "fl_old", subj)
	ackNext(ctx, t, sub, 3)
	_ = sub.Close()
	_ = b.Close()

	b = embedded(ctx, t, dir)
	defer b.Close()
	sub = subscribe(ctx, t, b, "fl_old", subj)
	defer sub.Close()
	d, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := number(t, d); n != 3 {
		t.Fatalf("first message after the move: %d, want 3", n)
	}
	c, err := b.JetStream().Consumer(ctx, b.StreamName(natsbus.EventsStream), "fl_old")
	if err != nil {
		t.Fatal(err)
	}
	if !c.CachedInfo().Config.MemoryStorage {
		t.Fatal("still a file consumer")
	}
}

func TestUnknownConsumerState(t *testing.T) {
	if b, err := natsbus.Embedded(context.Background(), t.TempDir(), natsbus.Options{ConsumerState: "disk"}); err == nil {
		_ = b.Close()
		t.Fatal("consumer state \"disk\" accepted")
	}
}

// A stream deleted and created again numbers its messages from 1 again: a
// consumer's checkpoint of the old stream must not skip them.
func TestCheckpointOfARecreatedStreamIsIgnored(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := natsbus.Options{FloorInterval: 20 * time.Millisecond}
	b := embedded(ctx, t, dir, opts)
	subj := es.EventSubjectPrefix + "fl.Again"
	publishNumbered(ctx, t, b, subj, 5)
	sub := subscribe(ctx, t, b, "fl_again", subj)
	ackNext(ctx, t, sub, 5)
	waitFloor(t, b, "5")
	_ = sub.Close()
	if err := b.JetStream().DeleteStream(ctx, natsbus.EventsStream); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()

	b = embedded(ctx, t, dir, opts) // creates the events stream anew
	defer b.Close()
	if err := b.Publish(ctx, es.Envelope{Subject: subj, Message: testMsg(7)}); err != nil {
		t.Fatal(err)
	}
	sub = subscribe(ctx, t, b, "fl_again", subj)
	defer sub.Close()
	nctx, ncancel := context.WithTimeout(ctx, 10*time.Second)
	defer ncancel()
	d, err := sub.Next(nctx)
	if err != nil {
		t.Fatalf("the recreated stream's first message was not delivered: %v", err)
	}
	if n := number(t, d); n != 7 {
		t.Fatalf("got message %d, want 7", n)
	}
}

// A memory consumer that vanishes while its subscription runs (an external
// server restarted) is created again after its checkpoint, and delivery goes on.
func TestVanishedMemoryConsumerIsCreatedAgain(t *testing.T) {
	openBoth(t, func(t *testing.T, open func(natsbus.Options) *natsbus.Bus) {
		b := open(natsbus.Options{ConsumerState: natsbus.ConsumerStateMemory, FloorInterval: 20 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		name := fmt.Sprintf("fl_gone%d", time.Now().UnixNano()%1_000_000)
		subj := es.EventSubjectPrefix + name + ".Happened"
		sub, err := b.Subscribe(ctx, es.ConsumerSpec{Name: name, Subjects: []string{subj}})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if err := b.Publish(ctx, es.Envelope{Subject: subj, Message: testMsg(1)}); err != nil {
			t.Fatal(err)
		}
		d, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		waitFloor(t, b, "1")
		if err := b.JetStream().DeleteConsumer(ctx, b.StreamName(natsbus.EventsStream), name); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, es.Envelope{Subject: subj, Message: testMsg(2)}); err != nil {
			t.Fatal(err)
		}
		d, err = sub.Next(ctx)
		if err != nil {
			t.Fatalf("nothing delivered after the consumer vanished: %v", err)
		}
		if n := number(t, d); n != 2 {
			t.Fatalf("got message %d, want 2 (1 was acknowledged before the checkpoint)", n)
		}
	})
}
