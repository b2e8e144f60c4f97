package reviews

import (
	"context"
	"sync"
)

// Rating is a product's aggregate rating as the cache serves it.
type Rating struct {
	ProductID     string  `json:"productId"`
	AverageRating float64 `json:"averageRating"`
	ReviewCount   int     `json:"reviewCount"`
	Version       int64   `json:"version"` // of the product's rating; the cache keeps the newest
}

// RatingCache is the rating cache read model: Redis in server mode
// (redis.RatingCache), MemoryRatingCache in the embedded default. Both pass
// cachetest.Run.
type RatingCache interface {
	// Get returns the cached rating of productID; ok=false on a miss.
	Get(ctx context.Context, productID string) (r Rating, ok bool, err error)
	// Put stores r unless the cache already holds a newer or equal Version.
	Put(ctx context.Context, r Rating) error
	// Clear empties the cache (a rebuild follows).
	Clear(ctx context.Context) error
}

// MemoryRatingCache is the in-process rating cache.
type MemoryRatingCache struct {
	mu sync.RWMutex
	m  map[string]Rating
}

// NewMemoryRatingCache returns an empty in-process cache.
func NewMemoryRatingCache() *MemoryRatingCache { return &MemoryRatingCache{m: map[string]Rating{}} }

// Get implements RatingCache.
func (c *MemoryRatingCache) Get(_ context.Context, productID string) (Rating, bool, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.m[productID]
	return r, ok, nil
}

// Put implements RatingCache.
func (c *MemoryRatingCache) Put(_ context.Context, r Rating) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[r.ProductID]; ok && old.Version >= r.Version {
		return nil
	}
	c.m[r.ProductID] = r
	return nil
}

// Clear implements RatingCache.
func (c *MemoryRatingCache) Clear(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[string]Rating{}
	return nil
}
