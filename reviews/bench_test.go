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
	return benchContextBatch(b, 0)
}

// benchContextBatch is benchContext with the platform's MaxBatch (0: default).
func benchContextBatch(b *testing.B, maxBatch int) (*Module, *platform.Platform, http.Handler) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	bus, err := natsbus.Embedded(ctx, filepath.Join(dir, "nats"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bus.Close() })
	m := New(Config{})
	reg := aloneRegistry(b, m)
	p, err := platform.New(platform.Config{Bus: bus, Registry: reg, MaxBatch: maxBatch})
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

// BenchmarkRatingAggregation: how fast ReviewPublished events become ratings
// (rating stream appended and the rating read model updated): n events are
// stored at once, as the moderation worker would store them, and the clock
// runs until every one is counted. Target: >= 5,000 events/s. Sub-benchmarks:
// all reviews on one product (one hot stream) and spread over 1,000 products;
// batch=1 is the baseline of the same machine and run: one message per commit.
func BenchmarkRatingAggregation(b *testing.B) {
	for _, products := range []int{1, 1000} {
		for _, batch := range []int{1, 0} {
			name := fmt.Sprintf("products=%d/batch=%d", products, batch)
			if batch == 0 {
				name = fmt.Sprintf("products=%d/batch=default", products)
			}
			b.Run(name, func(b *testing.B) {
				m, _, _ := benchContextBatch(b, batch)
				for i := 0; b.Loop(); i++ {
					took := publishReviews(b, m, fmt.Sprintf("p%d-", i), products, benchN)
					b.ReportMetric(float64(benchN)/took.Seconds(), "published-events/s")
				}
			})
		}
	}
}

// publishReviews stores n ReviewPublished events over products products
// (ids prefix+k) and returns how long until the ratings read model counts them all.
func publishReviews(b *testing.B, m *Module, prefix string, products, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	const perCommit = 500
	start := time.Now()
	for i := 0; i < n; i += perCommit {
		var cm es.Commit
		for j := i; j < min(i+perCommit, n); j++ {
			id := acme.NewID()
			e := ReviewPublished.New(acme.NewID(), ReviewPublishedV1{ReviewID: id, ProductID: fmt.Sprintf("%s%d", prefix, j%products),
				CustomerID: acme.NewID(), Rating: 1 + j%5, PublishedAt: "2026-12-04T00:00:00Z", By: "moderation-worker"}, es.Metadata{})
			cm.Appends = append(cm.Appends, es.Append{StreamID: "review-" + id, StreamType: "review", Expected: es.AnyVersion, Events: []es.Event{e}})
		}
		if _, err := m.store.Commit(ctx, cm); err != nil {
			b.Fatal(err)
		}
	}
	for {
		var counted int
		if err := m.store.DB().QueryRowContext(ctx, `SELECT COALESCE(SUM(review_count), 0) FROM reviews_ratings WHERE product_id LIKE $1`, prefix+"%").Scan(&counted); err != nil {
			b.Fatal(err)
		}
		if counted == n {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("ratings count %d of %d reviews", counted, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// benchN is the number of reviews BenchmarkRatingAggregation publishes.
var benchN = 5_000
