// Package cachetest is the conformance suite every reviews.RatingCache runs.
package cachetest

import (
	"context"
	"sync"
	"testing"

	"acme"
	"acme/reviews"
)

// Run checks the RatingCache contract against the cache newCache returns
// (each call a fresh, empty cache).
func Run(t *testing.T, newCache func(t *testing.T) reviews.RatingCache) {
	ctx := context.Background()
	t.Run("MissThenHit", func(t *testing.T) {
		c := newCache(t)
		id := acme.NewID()
		if _, ok, err := c.Get(ctx, id); err != nil || ok {
			t.Fatalf("Get on empty cache = ok %v, err %v; want a miss", ok, err)
		}
		want := reviews.Rating{ProductID: id, AverageRating: 4.33, ReviewCount: 3, Version: 3}
		if err := c.Put(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(ctx, id)
		if err != nil || !ok || got != want {
			t.Fatalf("Get = %+v ok %v err %v; want %+v", got, ok, err, want)
		}
	})
	t.Run("KeepsNewestVersion", func(t *testing.T) {
		c := newCache(t)
		id := acme.NewID()
		newer := reviews.Rating{ProductID: id, AverageRating: 5, ReviewCount: 2, Version: 2}
		older := reviews.Rating{ProductID: id, AverageRating: 1, ReviewCount: 1, Version: 1}
		for _, r := range []reviews.Rating{newer, older, older} {
			if err := c.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if got, _, _ := c.Get(ctx, id); got != newer {
			t.Fatalf("after an older Put, Get = %+v; want %+v", got, newer)
		}
	})
	t.Run("ConcurrentPutsEndAtNewest", func(t *testing.T) {
		c := newCache(t)
		id := acme.NewID()
		var wg sync.WaitGroup
		for v := int64(1); v <= 50; v++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.Put(ctx, reviews.Rating{ProductID: id, AverageRating: float64(v%5) + 0.5, ReviewCount: int(v), Version: v})
			}()
		}
		wg.Wait()
		if got, _, _ := c.Get(ctx, id); got.Version != 50 || got.ReviewCount != 50 {
			t.Fatalf("after concurrent puts, Get = %+v; want version 50", got)
		}
	})
	t.Run("Clear", func(t *testing.T) {
		c := newCache(t)
		id := acme.NewID()
		_ = c.Put(ctx, reviews.Rating{ProductID: id, AverageRating: 3, ReviewCount: 1, Version: 1})
		if err := c.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.Get(ctx, id); ok {
			t.Fatal("Get after Clear hit; want a miss")
		}
	})
}
