package inventory

import (
	"testing"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

// BenchmarkCommandsBacklog drains a backlog of ReserveInventory commands
// (one unit of one of 50 products each) as the commands consumer would: one
// commit per command (the baseline), or batches of 64 planned together
// (what ConsumeBatch hands the handler when the queue is long).
//
//	go test -run '^$' -bench CommandsBacklog ./inventory
func BenchmarkCommandsBacklog(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(map[int]string{1: "one-at-a-time", 64: "batch-64"}[size], func(b *testing.B) {
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
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}
