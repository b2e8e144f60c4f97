package platform

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"acme"
	"acme/es"
	"acme/httpapi"
	"acme/natsbus"
)

// Benchmarks of docs/benchmarks/messaging.md. Run:
//
//	go test ./platform -run '^$' -bench Messaging -benchtime 1x
//
// Each reports its own figures (ReportMetric), baseline and subject in the same run.

func fillLog(b testing.TB, s es.Store, n int) {
	b.Helper()
	const per = 1000
	for i := 0; i < n; i += per {
		var apps []es.Append
		for j := i; j < min(i+per, n); j++ {
			e := ThingHappened.New(acme.NewID(), thingHappened{ThingID: fmt.Sprintf("t%03d", j%100), N: j}, es.Metadata{CorrelationID: "c", Actor: "admin"})
			apps = append(apps, es.Append{StreamID: fmt.Sprintf("thing-%d", j), StreamType: "thing", Expected: es.NoStream, Events: []es.Event{e}})
		}
		if _, err := s.Commit(context.Background(), es.Commit{Appends: apps}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessagingRelayVsRawPublish: the relay publishing a log of n events
// (read, publish in async batches, wait for acks, checkpoint) against raw
// JetStream async publishes of the same messages on the same embedded server.
func BenchmarkMessagingRelayVsRawPublish(b *testing.B) {
	const n = 20000
	for range b.N {
		dir := b.TempDir()
		alpha := openStore(b, dir, "alpha")
		fillLog(b, alpha, n)
		events, err := alpha.ReadAll(context.Background(), 0, n)
		if err != nil || len(events) != n {
			b.Fatal(len(events), err)
		}

		// Alternate baseline and relay three times; keep the best of each (the
		// machine is shared, the best run is the least disturbed).
		var rawDur, relayDur time.Duration
		for round := range 3 {
			d := rawPublish(b, events, fmt.Sprintf("RAW%d_", round))
			if rawDur == 0 || d < rawDur {
				rawDur = d
			}
			d = relayRun(b, alpha, n)
			if relayDur == 0 || d < relayDur {
				relayDur = d
			}
		}
		b.ReportMetric(float64(n)/rawDur.Seconds(), "raw-msgs/s")
		b.ReportMetric(float64(n)/relayDur.Seconds(), "relay-msgs/s")
		b.ReportMetric(100*rawDur.Seconds()/relayDur.Seconds(), "relay-%-of-raw")
	}
}

// BenchmarkMessagingCommitToHandler: one event committed at a time in the
// producer's store; the time until a consumer's handler in another context
// sees it (embedded bus and SQLite stores).
func BenchmarkMessagingCommitToHandler(b *testing.B) {
	const samples = 2000
	for range b.N {
		dir := b.TempDir()
		bus := embeddedBus(b)
		alpha, beta := openStore(b, dir, "alpha"), openStore(b, dir, "beta")
		p := newPlatform(b, bus, nil)
		p.Host("alpha", alpha)
		type hit struct {
			id string
			at time.Time
		}
		seen := make(chan hit, samples+100)
		p.Host("beta", beta).Consume("lat", []string{"ThingHappened"}, func(ctx context.Context, m es.Message) (es.Commit, error) {
			seen <- hit{m.ID, time.Now()}
			return es.Commit{}, nil
		})
		if err := p.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		var lat, fromStart []time.Duration
		for i := range samples + 50 {
			e := ThingHappened.New(acme.NewID(), thingHappened{ThingID: "x", N: i}, es.Metadata{})
			s0 := time.Now()
			if _, err := alpha.Commit(context.Background(), es.Commit{Appends: []es.Append{{StreamID: "thing-x", Expected: es.AnyVersion, Events: []es.Event{e}}}}); err != nil {
				b.Fatal(err)
			}
			s1 := time.Now()
			select {
			case h := <-seen:
				if h.id != e.ID {
					b.Fatalf("handler saw %s, want %s", h.id, e.ID)
				}
				if i >= 50 { // warm-up
					lat = append(lat, max(h.at.Sub(s1), 0)) // the handler may run before Commit has returned
					fromStart = append(fromStart, h.at.Sub(s0))
				}
			case <-time.After(10 * time.Second):
				b.Fatal("the handler never saw the event")
			}
		}
		_ = p.Close()
		q := func(ds []time.Duration, f float64) time.Duration {
			s := append([]time.Duration(nil), ds...)
			sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
			return s[int(f*float64(len(s)-1))]
		}
		b.ReportMetric(float64(q(lat, .50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(q(lat, .99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(q(fromStart, .50).Microseconds())/1000, "incl-commit-p50-ms")
		b.ReportMetric(float64(q(fromStart, .99).Microseconds())/1000, "incl-commit-p99-ms")
	}
}

// BenchmarkMessagingProjectionCatchUp: a projection catching up from the start
// of a local log of n events (the relay has published it already), with three
// Apply styles: decode only (the runner's own cost: read, transaction,
// checkpoint), a batch-folding read model (decode, sum per row in memory, one
// upsert per distinct row of the batch), and one upsert per event.
func BenchmarkMessagingProjectionCatchUp(b *testing.B) {
	const n = 100000
	dir := b.TempDir()
	alpha := openStore(b, dir, "alpha")
	fillLog(b, alpha, n)
	if err := alpha.Migrate(context.Background(), "platform", mustSub(migrationsFS, "migrations")); err != nil {
		b.Fatal(err)
	}
	if _, err := alpha.Commit(context.Background(), es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		return writeCheckpoint(ctx, tx, relayCheckpoint, n)
	}}); err != nil {
		b.Fatal(err)
	}
	var resets atomic.Int64
	perEvent := thingsProjection(&resets, 0)
	styles := []struct {
		name  string
		apply func(ctx context.Context, tx es.SQL, events []es.Event) error
	}{
		{"decode-only", func(ctx context.Context, tx es.SQL, events []es.Event) error {
			for _, e := range events {
				if _, err := ThingHappened.Decode(e); err != nil {
					return err
				}
			}
			return nil
		}},
		{"fold-per-batch", func(ctx context.Context, tx es.SQL, events []es.Event) error {
			type acc struct{ total, n, last int64 }
			rows := map[string]*acc{}
			for _, e := range events {
				v, err := ThingHappened.Decode(e)
				if err != nil {
					return err
				}
				a := rows[v.ThingID]
				if a == nil {
					a = &acc{}
					rows[v.ThingID] = a
				}
				a.total += int64(v.N)
				a.n++
				a.last = e.Position
			}
			for id, a := range rows {
				if _, err := tx.ExecContext(ctx, `INSERT INTO alpha_things (thing_id, total, events, last_position) VALUES ($1, $2, $3, $4)
ON CONFLICT (thing_id) DO UPDATE SET total = alpha_things.total + excluded.total, events = alpha_things.events + excluded.events, last_position = excluded.last_position
WHERE alpha_things.last_position < excluded.last_position`, id, a.total, a.n, a.last); err != nil {
					return err
				}
			}
			return nil
		}},
		{"upsert-per-event", perEvent.Apply},
	}
	for si, st := range styles {
		b.Run(st.name, func(b *testing.B) {
			for i := range b.N {
				p := newPlatform(b, embeddedBus(b), nil)
				pr := perEvent
				pr.Name = fmt.Sprintf("alpha.things_%d_%d", si, i)
				pr.Apply = st.apply
				h := p.Host("alpha", alpha).(*host)
				h.Project(pr)
				if _, err := alpha.Commit(context.Background(), es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
					_, err := tx.ExecContext(ctx, `DELETE FROM alpha_things`)
					return err
				}}); err != nil && si > 0 {
					b.Fatal(err)
				}
				start := time.Now()
				if err := p.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				x := h.projections[0]
				for x.position.Load() < n {
					time.Sleep(200 * time.Microsecond)
				}
				el := time.Since(start)
				b.ReportMetric(float64(n)/el.Seconds(), "events/s")
				if st.name == "fold-per-batch" {
					// Rebuild beside and swap: the whole log in one transaction.
					before := resets.Load()
					start = time.Now()
					if err := p.Rebuild(context.Background(), pr.Name); err != nil {
						b.Fatal(err)
					}
					for resets.Load() == before || x.status.Load() != "running" {
						time.Sleep(200 * time.Microsecond)
					}
					b.ReportMetric(time.Since(start).Seconds(), "rebuild-s")
				}
				_ = p.Close()
			}
		})
	}
}

// rawPublish publishes events with raw JetStream async publishes (same
// subjects, headers, payloads and message ids as the relay) on a fresh embedded
// server and returns the time until every one is acknowledged.
func rawPublish(b *testing.B, events []es.Event, prefix string) time.Duration {
	raw := embeddedBus(b, natsbus.Options{Prefix: prefix})
	// Its own JetStream context with room for every publish in flight, so the
	// baseline never stalls on the async window.
	js, err := jetstream.New(raw.Conn(), jetstream.WithPublishAsyncMaxPending(len(events)+1))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	for _, e := range events {
		m := es.FromEvent("alpha", e)
		msg := nats.NewMsg(raw.Subject("acme.evt.alpha.ThingHappened"))
		msg.Data = m.Data
		h := msg.Header
		h.Set("ce-specversion", "1.0")
		h.Set("ce-id", m.ID)
		h.Set("ce-type", m.Type)
		h.Set("ce-source", m.Source)
		h.Set("content-type", "application/json")
		h.Set("ce-time", m.Time.Format(time.RFC3339Nano))
		h.Set("ce-subject", m.Subject)
		h.Set("acme-schemaversion", "1")
		h.Set("acme-position", strconv.FormatInt(m.Position, 10))
		h.Set("acme-correlationid", m.Metadata.CorrelationID)
		h.Set("acme-actor", m.Metadata.Actor)
		f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(m.ID))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	d := time.Since(start)
	_ = raw.Close()
	return d
}

// relayRun publishes alpha's log from position 0 with the relay on a fresh
// embedded server and returns the time until the checkpoint reaches n.
func relayRun(b *testing.B, alpha es.Store, n int) time.Duration {
	if err := alpha.Migrate(context.Background(), "platform", mustSub(migrationsFS, "migrations")); err != nil {
		b.Fatal(err)
	}
	if _, err := alpha.Commit(context.Background(), es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		return writeCheckpoint(ctx, tx, relayCheckpoint, 0)
	}}); err != nil {
		b.Fatal(err)
	}
	bus := embeddedBus(b)
	p := newPlatform(b, bus, nil)
	h := p.Host("alpha", alpha).(*host)
	start := time.Now()
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	for h.relay.published.Load() < int64(n) {
		time.Sleep(200 * time.Microsecond)
	}
	d := time.Since(start)
	_ = p.Close()
	_ = bus.Close()
	return d
}

// BenchmarkMessagingConsumerBatch: a consumer in another context applying a
// backlog of n events from the bus, one upsert per message: registered with
// Consume (one commit and one inbox row per message: the baseline) and with
// ConsumeBatch (what the bus has ready, up to Config.MaxBatch, per commit).
func BenchmarkMessagingConsumerBatch(b *testing.B) {
	const n = 20000
	for _, batch := range []bool{false, true} {
		b.Run(fmt.Sprintf("batch=%v", batch), func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				bus := embeddedBus(b)
				alpha, beta := openStore(b, dir, "alpha"), openStore(b, dir, "beta")
				migrateSeen(b, beta)
				fillLog(b, alpha, n)
				p := newPlatform(b, bus, nil)
				p.Host("alpha", alpha)
				var calls atomic.Int64
				one := countingHandler(&calls)
				hb := p.Host("beta", beta)
				if batch {
					hb.ConsumeBatch("things", []string{"ThingHappened"}, func(ctx context.Context, ms []es.Message) (es.Commit, error) {
						cs := make([]es.Commit, len(ms))
						for i, m := range ms {
							c, err := one(ctx, m)
							if err != nil {
								return es.Commit{}, err
							}
							cs[i] = c
						}
						return es.Join(cs...), nil
					})
				} else {
					hb.Consume("things", []string{"ThingHappened"}, one)
				}
				b.ResetTimer()
				start := time.Now()
				if err := p.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				if err := p.Await(ctx, httpapi.Position{"alpha": int64(n)}, []string{"beta.things"}); err != nil {
					b.Fatal(err)
				}
				cancel()
				b.ReportMetric(n/time.Since(start).Seconds(), "events/s")
				b.StopTimer()
				_ = p.Close()
			}
		})
	}
}
