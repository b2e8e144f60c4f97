package natsbus_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"acme/es"
	"acme/natsbus"
	"acme/natsbus/bustest"
	"acme/testenv"
)

// The conformance suite runs on both servers with each consumer state (the
// embedded default is memory, the external one file).
func TestEmbedded(t *testing.T) {
	for _, state := range []string{natsbus.ConsumerStateMemory, natsbus.ConsumerStateFile} {
		t.Run(state, func(t *testing.T) {
			bustest.Run(t, func(t *testing.T) es.Bus {
				b, err := natsbus.Embedded(context.Background(), t.TempDir(), natsbus.Options{ConsumerState: state})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				return b
			})
		})
	}
}

func TestExternal(t *testing.T) {
	for _, state := range []string{natsbus.ConsumerStateFile, natsbus.ConsumerStateMemory} {
		t.Run(state, func(t *testing.T) { testExternal(t, state) })
	}
}

func testExternal(t *testing.T, state string) {
	url := testenv.NATSURL(t)
	run := fmt.Sprintf("T%d_%d_", os.Getpid(), time.Now().UnixNano()%1_000_000)
	n := 0
	bustest.Run(t, func(t *testing.T) es.Bus {
		n++
		opts := natsbus.Options{Prefix: fmt.Sprintf("%s%d_", run, n), ConsumerState: state}
		b, err := natsbus.Connect(context.Background(), url, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = b.Close()
			// Remove this test's streams from the shared server (a new
			// connection: the test may have closed its bus).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if c, err := natsbus.Connect(ctx, url, opts); err == nil {
				if err := c.Destroy(ctx); err != nil {
					t.Logf("clean-up: %v", err)
				}
				_ = c.Close()
			}
		})
		return b
	})
}

// openBoth runs f against the embedded server and, when it answers, the
// external one; open gives a fresh bus with opts (a unique prefix on the
// external server, removed afterwards).
func openBoth(t *testing.T, f func(t *testing.T, open func(opts natsbus.Options) *natsbus.Bus)) {
	t.Run("embedded", func(t *testing.T) {
		f(t, func(opts natsbus.Options) *natsbus.Bus {
			b, err := natsbus.Embedded(context.Background(), t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		})
	})
	t.Run("external", func(t *testing.T) {
		url := testenv.NATSURL(t)
		f(t, func(opts natsbus.Options) *natsbus.Bus {
			opts.Prefix = fmt.Sprintf("T%d_%d_", os.Getpid(), time.Now().UnixNano()%1_000_000_000)
			b, err := natsbus.Connect(context.Background(), url, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = b.Destroy(ctx)
				_ = b.Close()
			})
			return b
		})
	})
}

func testMsg(n int) es.Message {
	return es.Message{ID: fmt.Sprintf("m-%d-%d", time.Now().UnixNano(), n), Type: "DoIt", SchemaVersion: 1, Source: "test",
		Time: time.Now().UTC(), Data: []byte(fmt.Sprintf(`{"n":%d}`, n)), Metadata: es.Metadata{CorrelationID: "c"}}
}

// stored counts the messages the commands stream holds on subject.
func stored(t *testing.T, b *natsbus.Bus, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.JetStream().Stream(ctx, b.StreamName(natsbus.CommandsStream))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(b.Subject(subject)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[b.Subject(subject)]
}

// waitStored polls until the commands stream holds want messages on subject.
func waitStored(t *testing.T, b *natsbus.Bus, subject string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := stored(t, b, subject)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d messages stored, want %d", subject, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Commands are kept until their handler group has acknowledged them, then
// purged (the commands stream has limits retention); commands nobody handles
// yet are kept.
func TestCommandsPurgedOnceAcknowledged(t *testing.T) {
	openBoth(t, func(t *testing.T, open func(natsbus.Options) *natsbus.Bus) {
		b := open(natsbus.Options{PurgeInterval: 20 * time.Millisecond})
		o := fmt.Sprintf("p%d", time.Now().UnixNano()%1_000_000_000)
		doIt, orphan := es.CommandSubjectPrefix+o+".DoIt", es.CommandSubjectPrefix+o+".Orphan"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := b.Subscribe(ctx, es.ConsumerSpec{Name: o + "_h", Subjects: []string{doIt}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var envs []es.Envelope
		for i := range 5 {
			envs = append(envs, es.Envelope{Subject: doIt, Message: testMsg(i)})
		}
		envs = append(envs, es.Envelope{Subject: orphan, Message: testMsg(9)})
		if err := b.Publish(ctx, envs...); err != nil {
			t.Fatal(err)
		}
		var held []es.Delivery
		for i := range 5 {
			d, err := s.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if i < 3 {
				if err := d.Ack(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				held = append(held, d) // not acknowledged yet
			}
		}
		waitStored(t, b, doIt, 2)
		// Several purge intervals later the unacknowledged are still there.
		for range 10 {
			time.Sleep(20 * time.Millisecond)
			if n := stored(t, b, doIt); n != 2 {
				t.Fatalf("%d stored with two unacknowledged", n)
			}
		}
		for _, d := range held {
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
		waitStored(t, b, doIt, 0)
		if n := stored(t, b, orphan); n != 1 {
			t.Fatalf("a command without a handler: %d stored, want 1", n)
		}
	})
}

// A work-queue commands stream made by an earlier version is kept as it is
// (JetStream cannot change a retention): commands still flow, each removed
// as it is acknowledged, one handler group per subject, and its consumers
// (file ones of that version, then memory ones) survive restarts: a consumer
// of a work queue must deliver all, so no checkpoint applies there.
func TestWorkQueueCommandsStreamOfAnEarlierVersion(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	old := natsbus.Options{ConsumerState: natsbus.ConsumerStateFile}
	b, err := natsbus.Embedded(ctx, dir, old)
	if err != nil {
		t.Fatal(err)
	}
	js := b.JetStream()
	if err := js.DeleteStream(ctx, natsbus.CommandsStream); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: natsbus.CommandsStream, Subjects: []string{"acme.cmd.>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()

	subj := es.CommandSubjectPrefix + "wq.DoIt"
	// run opens the bus with opts, checks the stream kept its retention,
	// subscribes the handler group, publishes command n and acknowledges
	// what it receives until n, then closes the bus.
	run := func(opts natsbus.Options, n int) {
		t.Helper()
		b, err := natsbus.Embedded(ctx, dir, opts)
		if err != nil {
			t.Fatalf("reopen over a work-queue commands stream: %v", err)
		}
		defer b.Close()
		s, err := b.JetStream().Stream(ctx, natsbus.CommandsStream)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Retention; r != jetstream.WorkQueuePolicy {
			t.Fatalf("retention %v", r)
		}
		sub, err := b.Subscribe(ctx, es.ConsumerSpec{Name: "wq_h", Subjects: []string{subj}})
		if err != nil {
			t.Fatalf("subscribe on the work queue (%s consumers): %v", opts.ConsumerState, err)
		}
		defer sub.Close()
		if s2, err := b.Subscribe(ctx, es.ConsumerSpec{Name: "wq_h2", Subjects: []string{subj}}); err == nil {
			_ = s2.Close()
			t.Fatal("a second handler group was accepted")
		}
		if err := b.Publish(ctx, es.Envelope{Subject: subj, Message: testMsg(n)}); err != nil {
			t.Fatal(err)
		}
		for {
			d, err := sub.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
			if number(t, d) == n {
				break
			}
		}
		waitStored(t, b, subj, 0)
		if opts.ConsumerState != natsbus.ConsumerStateFile {
			waitFloor(t, b, fmt.Sprint(n)) // command n is sequence n: a checkpoint exists for the next start
		}
	}
	run(natsbus.Options{ConsumerState: natsbus.ConsumerStateFile}, 1)
	memory := natsbus.Options{FloorInterval: 20 * time.Millisecond}
	run(memory, 2) // the file consumer becomes a memory one
	run(memory, 3) // and starts again after a restart
}

// A lease left by a previous run of the embedded server (a process killed
// with -9 never released it) does not hold the next run: the embedded
// server and its data directory are one process's alone.
func TestEmbeddedRestartDropsAKilledRunsLeases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := natsbus.Embedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Lease(ctx, "relay.cart", "killed-process", time.Hour); err != nil || !ok {
		t.Fatalf("first lease: %v %v", ok, err)
	}
	_ = b.Close() // no ReleaseLease: as after kill -9
	b2, err := natsbus.Embedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if ok, err := b2.Lease(ctx, "relay.cart", "next-run", time.Minute); err != nil || !ok {
		t.Fatalf("the next run's lease: %v %v, want it at once", ok, err)
	}
}
