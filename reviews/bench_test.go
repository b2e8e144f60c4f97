package reviews

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
	"acme/natsbus"
	"acme/platform"
	"acme/sqlite"
)

// benchContext runs the reviews context alone on a real platform: SQLite store
// and embedded NATS, as in the embedded default.
func benchContext(b *testing.B) (*Module, *platform.Platform, http.Handler) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	bus, err := natsbus.Embedded(ctx, filepath.Join(dir, "nats"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bus.Close() })
	m := New(Config{})
	// The foreign messages it consumes must be declared: stand-ins with the
	// owners' names (the real owners are not part of this benchmark).
	type foreign struct{}
	type foreign2 struct{}
	type foreign3 struct{}
	reg, err := es.NewRegistry(append(m.Messages(),
		es.Define[foreign](es.MessageSpec{Name: "ProductCreated", Kind: es.KindEvent, Owner: "catalog"}),
		es.Define[foreign2](es.MessageSpec{Name: "ProductDeactivated", Kind: es.KindEvent, Owner: "catalog"}),
		es.Define[foreign3](es.MessageSpec{Name: "OrderDelivered", Kind: es.KindEvent, Owner: "ordering"}))...)
	if err != nil {
		b.Fatal(err)
	}
	p, err := platform.New(platform.Config{Bus: bus, Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "reviews.db"))
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Start(ctx, p.Host("reviews", store)); err != nil {
		b.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(); store.Close() })
	api := httpapi.New("bench-admin-token")
	m.Routes(api)
	return m, p, api
}

// seed publishes n reviews of one product by n customers and returns when
// they are all stored, plus how long the rating aggregator took to count them.
func seed(b *testing.B, m *Module, n int) (productID string, aggregation time.Duration) {
	b.Helper()
	ctx := context.Background()
	productID = acme.NewID()
	if _, err := m.store.DB().ExecContext(ctx, `INSERT INTO reviews_products (product_id, active) VALUES ($1, true)`, productID); err != nil {
		b.Fatal(err)
	}
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := m.Submit(ctx, acme.NewID(), productID, 1+i%5, "Review", fmt.Sprintf("Text number %d.", i))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	for {
		r, err := m.rating(ctx, productID)
		if err != nil {
			b.Fatal(err)
		}
		if r.ReviewCount == n {
			return productID, time.Since(start)
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("rating counted %d of %d reviews", r.ReviewCount, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkGetProductReviews: Get Product Reviews with 10,000 published reviews
// on the product, served from the read model and the rating cache. Target: p99 < 5 ms.
func BenchmarkGetProductReviews(b *testing.B) {
	m, _, h := benchContext(b)
	productID, _ := seed(b, m, 10_000)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/api/v1/products/%s/reviews?page=%d", productID, 1+i%50), nil))
		lat = append(lat, time.Since(start))
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkRatingAggregation: how fast the rating aggregator consumes
// ReviewPublished events already on the bus. Target: >= 5,000 events/s.
func BenchmarkRatingAggregation(b *testing.B) {
	m, _, _ := benchContext(b)
	n := benchN
	for b.Loop() {
		_, took := seed(b, m, n)
		b.ReportMetric(float64(n)/took.Seconds(), "published-events/s")
	}
}

// benchN is the number of reviews BenchmarkRatingAggregation publishes.
var benchN = 5_000
