package reviews

import (
	"context"
	"embed"
	"fmt"

	"acme"
	"acme/es"
	"acme/httpapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures the reviews context.
type Config struct {
	// Cache is the rating cache (nil: in-process).
	Cache RatingCache
	// ModerationWords replaces the shipped moderation list (nil: DefaultModerationWords).
	ModerationWords []string
	Clock           acme.Clock // nil: the system clock
}

// Module is the reviews bounded context.
type Module struct {
	cache   RatingCache
	api     *httpapi.API // for Acme-Min-Position on commands
	policy  Policy
	clock   acme.Clock
	host    es.Host
	store   es.Store
	reviews *es.Aggregate[Review, any]
	ratings *es.Aggregate[ProductRating, ratingChange]
}

// New returns the reviews context.
func New(cfg Config) *Module {
	m := &Module{cache: cfg.Cache, clock: cfg.Clock}
	if m.cache == nil {
		m.cache = NewMemoryRatingCache()
	}
	if m.clock == nil {
		m.clock = acme.SystemClock{}
	}
	words := cfg.ModerationWords
	if words == nil {
		words = DefaultModerationWords()
	}
	m.policy = NewPolicy(words)
	return m
}

// Name implements es.Module.
func (m *Module) Name() string { return owner }

// Consumer and projection names (for httpapi.Reads and the admin API).
const (
	consumerProducts   = "catalog-products"
	consumerDeliveries = "ordering-deliveries"
	consumerAggregator = "rating-aggregator"
	projectionCache    = "reviews.rating-cache"
)

// Start implements es.Module.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	m.host, m.store = h, h.Store()
	if err := es.MigrateDir(ctx, m.store, owner, migrations, "migrations"); err != nil {
		return fmt.Errorf("reviews: migrate: %w", err)
	}
	m.reviews = &es.Aggregate[Review, any]{Store: m.store, Registry: h.Registry(), NewID: h.NewID,
		StreamType: "review", Decider: reviewDecider, Inline: projectReviews}
	m.ratings = &es.Aggregate[ProductRating, ratingChange]{Store: m.store, Registry: h.Registry(), NewID: h.NewID,
		StreamType: "rating", Decider: ratingDecider, SnapshotEvery: 50, SnapshotVersion: 2}

	h.Consume(consumerProducts, []string{"ProductCreated", "ProductDeactivated"}, m.onProduct)
	h.Consume(consumerDeliveries, []string{"OrderDelivered"}, m.onOrderDelivered)
	h.ConsumeBatch(consumerAggregator, []string{ReviewPublished.Name(), ReviewReturnedToModeration.Name()}, m.aggregateRatings)
	h.Project(es.Projection{Name: projectionCache, Apply: m.projectRatings, Reset: m.resetRatings})
	go m.warmCache(context.WithoutCancel(ctx))
	return nil
}

// warmCache fills the rating cache from the ratings read model at start (the
// read model itself is rebuilt from events by the projection runner).
func (m *Module) warmCache(ctx context.Context) {
	rows, err := m.store.DB().QueryContext(ctx, `SELECT product_id, average, review_count, version FROM reviews_ratings`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRating(rows)
		if err != nil {
			return
		}
		_ = m.cache.Put(ctx, r)
	}
}
