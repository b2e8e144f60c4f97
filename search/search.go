// Package search is the Search System: the Search Products query
// (GET /api/v1/products) served from a read model of other contexts' events.
// It owns no facts.
//
// Messages in (one durable consumer, "search.products"): catalog's
// CategoryCreated (the category tree, kept as ancestor paths so a category
// filter includes its sub-categories), ProductCreated, ProductUpdated,
// ProductVariantAdded, ProductDeactivated; inventory's InventoryRestocked,
// InventoryReserved, InventoryReleased, InventoryDeducted (their levels give
// inStock: some stock item of the product has available > 0, some variant's
// for a product with variants; a level older, by inventory's log position,
// than the stored one is ignored); reviews' RatingUpdated
// (averageRating, reviewCount). Messages out: none.
//
// Two stores, one truth. The consumer writes the source state (categories,
// products, ratings, stock) to SQL tables in search's own store, in the same
// transaction as its inbox record: exactly once, like every consumer. Every
// change to a product's indexed fields also takes the next value of a change
// counter (seq; one meta row serialises the writers, so seqs become visible
// in order). Bleve is not transactional with that store, so the full-text
// index is derived from the tables, never from the messages: the indexer
// upserts (or deletes, for a deactivated product) the documents of every
// product whose seq is newer than the seq the index records (stored inside
// the index with each batch). Indexing is idempotent (an upsert by product id
// from the current row), so a crash between the SQL commit and the index write
// only means the next catch-up indexes the same rows again. Each process keeps
// its own index on its own disk (server mode: every replica follows the
// shared tables by seq).
//
// Consistency. A text search first brings the index up to the tables (one
// point query when nothing changed), so a search reflects everything the
// consumer has applied: GET /api/v1/products declares Reads("search.products")
// and Acme-Min-Position waits for that consumer. A background loop also
// catches up every 50 ms.
//
// Rebuild. The index lives in <dataDir>/search/<generation>/ and the file
// CURRENT names the live generation. A rebuild (at start when there is no
// usable index, or requested through the projection runner:
// POST /api/v1/admin/projections/search.index/rebuild, whose Reset records the
// request in the meta row) builds a new generation beside the live one from
// the tables, catches it up and swaps it in; searches use the old one until
// the swap. (The tables themselves are fed by the bus consumer; they are
// rebuilt by replaying its messages, not by this projection.) A rebuilt index
// is merged into one segment before the swap, and the background loop merges
// the live one again when catch-ups have split it, at most every 5 minutes: a
// query pays its term lookups and range expansion once per segment.
//
// Queries. With q: Bleve. Every word of q must match name or description by
// its English stem (case-insensitive, stop words dropped), as a prefix, or
// within one typo (Levenshtein 1, words of 4+ letters); name matches weigh
// more than description matches, stems more than prefixes, prefixes more than
// typos. Filters (category with descendants, price range in minor units) are
// conjunctions; sorts relevance (default with q), price_asc, price_desc,
// newest, rating (average, then review count). Field sorts use fixed-width
// keyword sort keys with doc values (sorting on a numeric field, or on _id,
// costs several times more per hit). Without q: the SQL indexes of the
// products table (newest by default; relevance without q is newest); the
// unfiltered total is a count kept by the consumer, a category's total is
// counted on the index (one postings list), a price range's in SQL. Result rows (name, price,
// rating, inStock) always come from the tables by primary key, so they are as
// fresh as the consumer. Figures: docs/benchmarks/search.md.
// Deactivated products never appear (deleted from the index, filtered in
// SQL). Paging reaches the first 10,000 results.
package search

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Consumer and projection names.
const (
	ConsumerName   = "search.products"
	ProjectionName = "search.index"
	// RatingAggregator is reviews' consumer whose RatingUpdated search shows:
	// a search with the Acme-Min-Position of a review action waits for it,
	// then for search to apply what it appended.
	RatingAggregator = "reviews.rating-aggregator"
	// InventoryCommands is inventory's consumer of reservation commands:
	// with the Acme-Min-Position of an order's cancellation, a search waits
	// for the release it runs, then for search to apply InventoryReleased.
	InventoryCommands = "inventory.commands"
)

// Module is the search bounded context.
type Module struct {
	dataDir string
	every   time.Duration
	svc     *Service
	stop    context.CancelFunc // ends the catch-up loop (Close)
	done    chan struct{}      // closed when the loop has ended (and closed the index)
}

// Option configures the module.
type Option func(*Module)

// WithCatchUpInterval sets how often the background loop indexes changes (default 50 ms; 0 = never).
func WithCatchUpInterval(d time.Duration) Option { return func(m *Module) { m.every = d } }

// New returns the search module; its index lives under dataDir/search.
func New(dataDir string, opts ...Option) *Module {
	m := &Module{dataDir: dataDir, every: 50 * time.Millisecond}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Name is the context's name.
func (m *Module) Name() string { return owner }

// Messages lists what search declares: the Search Products query.
func (m *Module) Messages() []es.MessageType { return []es.MessageType{SearchProducts} }

// Service returns the module's queries (nil before Start).
func (m *Module) Service() *Service { return m.svc }

// Service is search's queries over its store and index.
type Service struct {
	db  es.SQL
	idx *indexer
}

// Start migrates the store, opens (or builds) the index and registers the
// consumer, the rebuild hook and the catch-up loop.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	if err := es.MigrateDir(ctx, h.Store(), owner, migrations, "migrations"); err != nil {
		return err
	}
	idx, err := openIndexer(ctx, filepath.Join(m.dataDir, "search"), h.Store().DB())
	if err != nil {
		return err
	}
	m.svc = &Service{db: h.Store().DB(), idx: idx}
	h.ConsumeBatch("products", consumed, func(ctx context.Context, ms []es.Message) (es.Commit, error) { return ApplyBatch(ms) })
	h.Project(es.Projection{
		Name:  ProjectionName,
		Apply: func(context.Context, es.SQL, []es.Event) error { return nil }, // search's own log is empty
		Reset: func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `UPDATE search_meta SET rebuild = rebuild + 1 WHERE id = 1`)
			return err
		},
		Progress: idx.progress,
	})
	// Start's ctx may end when start-up ends: the loop lives until Close (or
	// until the store closes).
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stop, m.done = stop, make(chan struct{})
	go func() {
		defer close(m.done)
		m.loop(lctx)
	}()
	return nil
}

// Close stops the catch-up loop and waits for it to end (it closes the
// index). The app calls it after the platform stopped, before the store
// closes. Safe to call more than once, and before Start.
func (m *Module) Close() error {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	return nil
}

// loop catches the index up (and honours rebuild requests) until ctx ends or
// the store closes, then closes the index.
func (m *Module) loop(ctx context.Context) {
	defer m.svc.idx.Close()
	every := m.every
	if every <= 0 {
		every = 100 * time.Millisecond // still watch for the store closing
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var err error
		if m.every > 0 {
			err = m.svc.idx.Tick(ctx)
		} else {
			_, _, err = m.svc.idx.head(ctx)
		}
		if isClosed(err) || ctx.Err() != nil {
			return
		}
		if err != nil {
			slog.WarnContext(ctx, "search: indexing", "err", err)
		}
	}
}

// isClosed reports whether err says the store (or its database) was closed.
func isClosed(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, es.ErrClosed) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "database is closed") || strings.Contains(s, "closed pool")
}

// Rebuild rebuilds the index from the source tables (beside the live one, then swapped).
func (s *Service) Rebuild(ctx context.Context) error { return s.idx.Rebuild(ctx) }

// CatchUp indexes every pending change; it returns how many products it indexed.
func (s *Service) CatchUp(ctx context.Context) (int, error) { return s.idx.CatchUp(ctx) }
