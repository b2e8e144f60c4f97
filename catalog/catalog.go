// Package catalog is the Product Catalog context: categories, products, their
// variants and prices. It is the source of truth for product data; search,
// inventory, cart and reviews learn about products only from its events.
//
// Language: an admin creates categories (a tree at most three deep; a root has
// depth 1) and products in a category with a price and an initial stock; updates
// a product's name, description or category (UpdateProduct) or its price
// (UpdateProductPrice), both announced as ProductUpdated with updatedFields;
// adds size/color variants with a SKU (AddProductVariant → ProductVariantAdded);
// deactivates a product (a soft delete: ProductDeactivated). Anyone reads a
// product by id (Get Product), deactivated ones too (active: false), and the
// category list.
//
// Invariants (each a decider rule, tested as given/when/then tables):
//   - Category names are unique across the catalog, case-insensitively; SKUs are
//     unique across all products, case-insensitively. Both are race-free through
//     reservation streams keyed by the hashed normalised key
//     ("category-name-<sha256(lower(name))>", "sku-<sha256(upper(sku))>"): the
//     claim event is committed with Expected = NoStream in the same Commit as the
//     category's or variant's event, so of concurrent claims exactly one commits
//     and the others reload and answer 409. Unique indexes on the read model are
//     a second line of defence.
//   - Depth <= 3 (422 depth_exceeded); a parent must exist (422 parent_not_found).
//     Categories are never moved or deleted, so a depth computed at creation stays right.
//   - Price >= 1 minor unit in an ISO 4217 currency (422 invalid_price); a variant's
//     priceModifier is in the product's currency and price + modifier >= 1.
//   - Name 1–200 characters (422 invalid_name); the category must exist (422
//     category_not_found); initialStock >= 0 (422 validation_failed).
//   - A variant has a size or a color (422 no_attribute); deactivating twice is
//     409 already_inactive; commands on an unknown product are 404.
//   - A deactivated product can still be read by id (active: false), updated,
//     repriced and given variants (an admin may fix its data); it stays inactive.
//     There is no reactivation command.
//
// Stock: initialStock travels in ProductCreated and ProductVariantAdded; the
// inventory context consumes them. Catalog never writes inventory's store.
//
// Read models: categories, products and variants are projected inline (in the
// transaction of the append), so a read after a write sees it.
//
// Messages out: CategoryCreated, ProductCreated, ProductUpdated,
// ProductVariantAdded, ProductDeactivated (+ the internal CategoryNameReserved,
// SKUReserved). In: none.
package catalog

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"acme"
	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Module is the catalog context.
type Module struct {
	clock acme.Clock

	h          es.Host
	categories *es.Aggregate[Category, createCategory]
	names      *es.Aggregate[Claim, claim]
	skus       *es.Aggregate[Claim, claim]
	products   *es.Aggregate[Product, any]
}

// Option configures the module.
type Option func(*Module)

// WithClock sets the clock (default: the system clock, UTC).
func WithClock(c acme.Clock) Option { return func(m *Module) { m.clock = c } }

// New returns the catalog module.
func New(opts ...Option) *Module {
	m := &Module{clock: acme.SystemClock{}}
	for _, o := range opts {
		o(m)
	}
	return m
}

var _ es.Module = (*Module)(nil)

// Name is the context's name.
func (m *Module) Name() string { return "catalog" }

// Messages lists the messages catalog owns.
func (m *Module) Messages() []es.MessageType { return messages() }

// Start applies the migrations and prepares the command path.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	if err := es.MigrateDir(ctx, h.Store(), "catalog", migrations, "migrations"); err != nil {
		return fmt.Errorf("catalog: migrate: %w", err)
	}
	m.h = h
	st, reg := h.Store(), h.Registry()
	m.categories = &es.Aggregate[Category, createCategory]{Store: st, Registry: reg, NewID: h.NewID, StreamType: "category", Decider: categoryDecider}
	m.names = &es.Aggregate[Claim, claim]{Store: st, Registry: reg, NewID: h.NewID, StreamType: "category-name", Decider: categoryNameDecider}
	m.skus = &es.Aggregate[Claim, claim]{Store: st, Registry: reg, NewID: h.NewID, StreamType: "sku", Decider: skuDecider}
	m.products = &es.Aggregate[Product, any]{Store: st, Registry: reg, NewID: h.NewID, StreamType: "product", Decider: productDecider,
		Inline: m.project, SnapshotEvery: 100, SnapshotVersion: 1}
	return nil
}

var errNotStarted = errors.New("catalog: module not started")
