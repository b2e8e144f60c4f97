package estest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme/es"
)

// BenchPayload is the data of every benchmark event: about 300 bytes of JSON,
// the size of the raw-insert baselines (pgbench script, sqlite raw insert).
var BenchPayload = json.RawMessage(`{"orderId":"0190c0de-7a1b-7c3d-8e4f-5a6b7c8d9e0f","customerId":"0190c0de-7a1b-7c3d-8e4f-000000000042",` +
	`"lines":[{"sku":"SKU-RED-42","quantity":2,"unitPrice":{"amount":1999,"currency":"EUR"}},` +
	`{"sku":"SKU-BLUE-7","quantity":1,"unitPrice":{"amount":4500,"currency":"EUR"}}],"note":"` + strings.Repeat("x", 45) + `"}`)

// RunBenchmarks runs the es.Store benchmarks against stores made by open:
//
//	Append/events=E/writers=W  W goroutines each commit E events per Commit to a
//	                           stream of their own with an exact expected version;
//	                           reports appends/s (Commits) and events/s
//	ReadAll                    reads a 50,000-event log in batches of 1,000; events/s
func RunBenchmarks(b *testing.B, open func(b *testing.B) es.Store) {
	for _, per := range []int{1, 10, 100} {
		for _, writers := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("Append/events=%d/writers=%d", per, writers), func(b *testing.B) {
				BenchAppend(b, open(b), per, writers)
			})
		}
	}
	var read es.Store
	parent := b
	b.Run("ReadAll", func(b *testing.B) {
		if read == nil { // one store for every b.N round, closed with the parent
			read = open(parent)
			preload(b, read, 50_000)
		}
		BenchReadAll(b, read)
	})
}

// BenchAppend measures b.N Commits of perCommit events by writers goroutines.
func BenchAppend(b *testing.B, s es.Store, perCommit, writers int) {
	ctx := b.Context()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for w := range writers {
		wg.Go(func() {
			stream := fmt.Sprintf("bench-%d", w)
			var version int64
			for next.Add(1) <= int64(b.N) {
				evs := make([]es.Event, perCommit)
				for i := range evs {
					evs[i] = es.Event{ID: NewID(), Type: "BenchEvent", SchemaVersion: 1, Data: BenchPayload}
				}
				_, err := s.Commit(ctx, es.Commit{Appends: []es.Append{{StreamID: stream, StreamType: "bench", Expected: version, Events: evs}}})
				if err != nil {
					b.Errorf("Commit: %v", err)
					return
				}
				version += int64(perCommit)
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/append")
	}
	b.ReportMetric(float64(b.N*perCommit)/elapsed.Seconds(), "events/s")
	if st, ok := s.(interface{ BatchSize() float64 }); ok {
		b.ReportMetric(st.BatchSize(), "commits/tx")
	}
}

func preload(b *testing.B, s es.Store, n int) {
	b.Helper()
	for done := 0; done < n; done += 100 {
		evs := make([]es.Event, 100)
		for i := range evs {
			evs[i] = es.Event{ID: NewID(), Type: "BenchEvent", SchemaVersion: 1, Data: BenchPayload, Metadata: es.Metadata{CorrelationID: "bench"}}
		}
		if _, err := s.Commit(b.Context(), es.Commit{Appends: []es.Append{{StreamID: fmt.Sprintf("bench-%d", done%1000), StreamType: "bench", Expected: es.AnyVersion, Events: evs}}}); err != nil {
			b.Fatalf("preload: %v", err)
		}
	}
}

// BenchReadAll measures reading b.N events of the global log (wrapping around
// at the head) in batches of 1,000.
func BenchReadAll(b *testing.B, s es.Store) {
	ctx := b.Context()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var after int64
	for read := 0; read < b.N; {
		evs, err := s.ReadAll(ctx, after, 1000)
		if err != nil {
			b.Fatalf("ReadAll: %v", err)
		}
		if len(evs) == 0 {
			after = 0
			continue
		}
		read += len(evs)
		after = evs[len(evs)-1].Position
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}
