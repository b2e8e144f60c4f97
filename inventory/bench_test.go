package inventory

import (
	"context"
	"fmt"
	"testing"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

// BenchmarkCommandsBacklog drains a backlog of ReserveInventory commands
// (one unit of one of 50 products each) through the commands handler and the
// store, as the commands consumer would (without the bus: validation, pulls and
// acks are the same either way): one commit per command (the baseline), or
// batches of 64 and of 256 planned together (ConsumeBatch hands the handler
// what the bus has ready, up to Config.MaxBatch, 256). Every reservation must
// end held.
//
//	go test -run '^$' -bench CommandsBacklog -benchtime 3000x ./inventory
func BenchmarkCommandsBacklog(b *testing.B) {
	for _, size := range []int{1, 64, 256} {
		name := fmt.Sprintf("batch-%d", size)
		if size == 1 {
			name = "one-at-a-time"
		}
		b.Run(name, func(b *testing.B) {
			m, h, _ := startTest(b, sqlite.WithExclusive()) // as the embedded server opens it (stream cache)
			products := make([]string, 50)
			for i := range products {
				products[i] = acme.NewID()
				createProduct(b, h, products[i], 1_000_000_000)
			}
			ms := make([]es.Message, b.N)
			for i := range ms {
				ms[i] = estest.Message(b, ReserveInventory.Name(), "", ReserveInventoryV1{CheckoutID: acme.NewID(),
					Items: []Line{{ProductID: products[i%len(products)], Quantity: 1}}})
			}
			b.ResetTimer()
			for start := 0; start < len(ms); start += size {
				applyBatch(b, m, h, ms[start:min(start+size, len(ms))])
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
			var held int64
			for _, p := range products {
				l, err := m.Service().Level(context.Background(), p, "")
				if err != nil {
					b.Fatal(err)
				}
				held += l.Reserved
			}
			if held != int64(b.N) {
				b.Fatalf("%d units held after %d reservations", held, b.N)
			}
		})
	}
}
