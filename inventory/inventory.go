// Package inventory is the Inventory System: stock levels per product and per
// variant, and the reservations that hold stock for a checkout.
//
// Language. A stock item is a product without variants, or one variant of a
// product (stream "stock-<productId>" or "stock-<productId>-<variantId>"):
// onHand units in the warehouse, reserved units held for checkouts, available
// = onHand - reserved. A reservation (stream "reservation-<checkoutId>") holds
// units of several stock items for one checkout until it is released (checkout
// failed, order cancelled, expired), deducted (the order shipped) or committed
// (the order was confirmed: it no longer expires).
//
// Invariants. 0 <= reserved <= onHand on every item, so available never goes
// below zero. A reservation is all lines or none. No sequence of concurrent
// checkouts sells a unit twice: a reservation is decided over the current
// state of each of its stock items (in stream-id order) and committed as ONE
// store Commit that appends to every touched item stream and the reservation
// stream, each with the version it read. The Commit is atomic across streams,
// so either every item is held or nothing is; a concurrent change to any item
// fails the whole commit with ErrConcurrency and it is decided again (no
// compensation is ever needed because nothing partial is ever stored). Item
// streams record per-checkout holds (StockHeld/StockHoldReleased/
// StockHoldDeducted, internal events), which makes release and deduct
// idempotent per item; the reservation stream carries the public events.
//
// The commands consumer (inventory.commands) takes a batch of pending commands
// at a time and plans them one after another over the same loaded states
// (each sees what the ones before it decided), then stores them as one Commit
// whose appends are in decision order, each expecting the version the
// decisions before it left: the batch stores exactly what the commands would
// one commit each. A concurrent change of a stream the batch appends to fails
// the commit and the batch is planned again (the platform re-runs it up to 10
// times, then applies its commands one at a time); a stream only read (an item
// a refused reservation found short) is not checked, as it is not for one
// command alone. An invalid command fails its batch, which the platform then
// applies one command at a time (the invalid one is dead-lettered).
//
// Messages in: RestockInventory (HTTP, admin); ReserveInventory,
// ReleaseInventory, DeductInventory (commands from checkout and ordering,
// consumed from the bus); catalog's ProductCreated (initialStock becomes
// InventoryRestocked), ProductVariantAdded (likewise, per variant) and
// ProductDeactivated (kept in inventory's own product read model); ordering's
// OrderConfirmed (commits the reservation keyed by checkoutId).
//
// Messages out: InventoryReserved, InventoryUnavailable, InventoryReleased,
// InventoryDeducted, InventoryRestocked, OutOfStock (when an item's available
// reaches zero). Every stock event carries levels: the items it changed, after
// the change.
//
// Decisions where the contract is silent:
//   - Restocking a product that has variants without a variantId is 422
//     variant_required; an unknown variant or a deactivated product is 404
//     product_not_found. Quantities are 1..1,000,000,000 (422 invalid_quantity).
//   - GET stock of a product that has variants, without variantId, answers the
//     sum over its stock items (variantId ""). An unknown variant is 404
//     product_not_found, as for restock.
//   - A reservation is decided once per checkoutId: repeating ReserveInventory
//     changes nothing. Release of an unknown/finished reservation, Deduct of a
//     reservation that is not live, and OrderConfirmed for an unknown one are
//     no-ops. EXPIRED does not release a committed reservation.
//   - ReserveInventory without expiresAt expires after the module's TTL (15 min).
//   - Expiry is a sweeper over the inline reservations read model (every
//     second by default); Release is idempotent, so several processes sweeping
//     at once is harmless.
package inventory

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"log/slog"
	"strings"
	"time"

	"acme"
	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Module is the inventory bounded context.
type Module struct {
	clock acme.Clock
	ttl   time.Duration
	sweep time.Duration
	svc   *Service
	host  es.Host
	ready chan struct{}
	stop  context.CancelFunc // ends the sweeper (Close)
	done  chan struct{}      // closed when the sweeper has ended
}

// Option configures the module.
type Option func(*Module)

// WithClock sets the clock (tests).
func WithClock(c acme.Clock) Option { return func(m *Module) { m.clock = c } }

// WithReservationTTL sets the lifetime of a reservation sent without expiresAt.
func WithReservationTTL(d time.Duration) Option {
	return func(m *Module) {
		if d > 0 {
			m.ttl = d
		}
	}
}

// WithSweepInterval sets how often expired reservations are released (0 = never: tests call ExpireDue).
func WithSweepInterval(d time.Duration) Option { return func(m *Module) { m.sweep = d } }

// New returns the inventory module.
func New(opts ...Option) *Module {
	m := &Module{clock: acme.SystemClock{}, ttl: 15 * time.Minute, sweep: time.Second}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Name is the context's name.
func (m *Module) Name() string { return owner }

// Messages lists every message inventory owns.
func (m *Module) Messages() []es.MessageType { return messages }

// Service returns the module's use cases (nil before Start).
func (m *Module) Service() *Service { return m.svc }

// Consumer names (as the platform knows them).
const (
	ConsumerCatalog  = "inventory.catalog"
	ConsumerCommands = "inventory.commands"
	ConsumerOrders   = "inventory.orders"
)

// Start migrates the store, registers the consumers and starts the expiry sweeper.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	if err := es.MigrateDir(ctx, h.Store(), owner, migrations, "migrations"); err != nil {
		return err
	}
	m.svc = newService(h.Store(), h.Registry(), h.NewID, m.clock, m.ttl)
	h.Consume("catalog", []string{"ProductCreated", "ProductVariantAdded", "ProductDeactivated"}, m.svc.onCatalog)
	h.ConsumeBatch("commands", []string{ReserveInventory.Name(), ReleaseInventory.Name(), DeductInventory.Name()}, m.svc.onCommands)
	h.Consume("orders", []string{"OrderConfirmed"}, m.svc.onOrders)
	if m.sweep > 0 {
		// Start's ctx may end with start-up: Close (or the store closing) stops it.
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		m.stop, m.done = stop, make(chan struct{})
		go func() {
			defer close(m.done)
			m.sweeper(sctx)
		}()
	}
	return nil
}

// Close stops the expiry sweeper and waits for it to end. The app calls it
// after the platform stopped, before the store closes. Safe to call more than
// once, and before Start.
func (m *Module) Close() error {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	return nil
}

// sweeper releases expired reservations until ctx ends or the store closes.
func (m *Module) sweeper(ctx context.Context) {
	t := time.NewTicker(m.sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := m.svc.ExpireDue(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, es.ErrClosed) || errors.Is(err, sql.ErrConnDone) ||
				strings.Contains(err.Error(), "database is closed") || strings.Contains(err.Error(), "closed pool") {
				return
			}
			slog.WarnContext(ctx, "inventory: expiring reservations", "err", err)
		}
	}
}
