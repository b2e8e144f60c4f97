// Package cart is the Cart System: each customer's shopping cart and their
// checkout requests.
//
// Language: a customer has one active cart (stream "cart-<customerId>"); a cart
// has lines (product, variant, quantity, unit price); checking out freezes the
// lines' prices and totals into CartCheckedOut, empties the cart and starts the
// next cart generation (a new cartId); the checkout saga then reports the
// outcome, which the cart keeps as a checkout request (PENDING → COMPLETED |
// FAILED).
//
// Invariants and choices:
//   - Prices, names, variants, the active flag, categories and available stock
//     come from the cart's OWN read models of catalog events (ProductCreated,
//     ProductUpdated, ProductVariantAdded, ProductDeactivated; a variant's price
//     is the product price plus its priceModifier) and of inventory events
//     (their levels); they are eventually consistent with catalog and inventory.
//     A cart command sent with Acme-Min-Position (e.g. the Acme-Position of a
//     product's creation) first waits until those read models reflect it.
//     Without one, a command refused on what they say (product_not_found,
//     out_of_stock, insufficient_stock, invalid_promotion_code) lets the read
//     model concerned catch up with what its source context has committed (up
//     to 1 s, else 503 stale_read_model) and is tried once more: a product,
//     restock or promotion created just before is seen.
//   - Adding: quantity < 1 → 422 invalid_quantity; a missing quantity → 422
//     validation_failed (the contract requires it, though the catalog's
//     AddItemToCart schema defaults it to 1); unknown or inactive product → 404
//     product_not_found; a product with variants and no variantId → 422
//     variant_required; a variantId the product does not have → 404
//     product_not_found (there is no such thing to sell); available 0 → 409
//     out_of_stock; what is already in the cart plus the quantity above the
//     available units → 409 insufficient_stock. One currency per cart: a product
//     priced in another currency than the cart's lines → 422 validation_failed.
//   - PUT quantity: 0 removes the line, < 0 → 422 invalid_quantity; raising it
//     above the available units → 409 insufficient_stock (lowering always
//     works). Without variantId, PUT and DELETE act on the product's only line
//     (404 item_not_in_cart when there is none; 422 variant_required when the
//     cart has several lines of the product, as for adding).
//   - Promotion codes (case-insensitive) are checked by CalculateDiscount over
//     the cart's read model of promotions (PromotionCreated); applying one emits
//     PromotionCodeApplied and DiscountCalculated (owned by the cart, whose log
//     produces it). The discount shown is recomputed on every read over the
//     current lines: a code that stopped applying shows 0 and stays on the cart;
//     at checkout it gives no discount. DELETE /api/v1/cart/promotion-code
//     takes it off (PromotionCodeRemoved; nothing when none is applied).
//   - A line the cart shows carries problem when it would not go through
//     checkout as it is (LineProblem: product_not_found, variant_required,
//     out_of_stock, insufficient_stock; priceLines: currency_mismatch for a
//     product repriced in another currency than the one the cart's lines
//     were added in (its first line's), left out of the subtotal, and invalid_quantity for a line that a price rise
//     took past the subtotal bound of 10^15 minor units). Totals never wrap:
//     past int64 a line total and the subtotal saturate, and a cart with such
//     a line shows a discount of 0 (the code stays).
//   - Checkout validates the address (name, line1, city, postalCode required;
//     country ISO 3166-1 alpha-2, upper-cased → 422 invalid_address) and the
//     payment method ({type: "card", token} → 422 validation_failed), then an
//     empty cart → 409 cart_empty; a line whose product is no longer sold → 404
//     product_not_found; lines in two currencies → 422 validation_failed
//     (items); a subtotal past the bound at today's prices → 422
//     invalid_quantity. Money is integer minor units; an empty cart shows
//     amounts in the configured default currency (USD).
//   - CheckoutFailed restores the failed checkout's lines into the customer's
//     cart (CartRestored: added to what is in the cart now, the current price
//     is taken again at the next checkout); its promotion code comes back unless
//     the cart has one.
//
// In: catalog's ProductCreated, ProductUpdated, ProductVariantAdded,
// ProductDeactivated; inventory's InventoryReserved, InventoryReleased,
// InventoryDeducted, InventoryRestocked, OutOfStock (their levels);
// promotions' PromotionCreated; checkout's CheckoutCompleted, CheckoutFailed.
// Out: ItemAddedToCart, CartQuantityUpdated, ItemRemovedFromCart,
// PromotionCodeApplied, PromotionCodeRemoved, DiscountCalculated,
// CartCheckedOut, CartCleared, CartRestored.
package cart

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

// DefaultCurrency is the currency an empty cart's amounts are shown in.
const DefaultCurrency = "USD"

// Module is the cart bounded context.
type Module struct {
	clock    acme.Clock
	currency string
	h        es.Host
	carts    *es.Aggregate[Cart, any]
	api      *httpapi.API // for Acme-Min-Position on commands
	watch    checkoutWatch
}

// New returns the cart module.
func New(clock acme.Clock) *Module {
	if clock == nil {
		clock = acme.SystemClock{}
	}
	return &Module{clock: clock, currency: DefaultCurrency}
}

// Name implements es.Module.
func (m *Module) Name() string { return "cart" }

// Messages implements es.Module.
func (m *Module) Messages() []es.MessageType { return messages() }

// Consumer names (read models the GET routes serve from).
const (
	consumerCatalog    = "catalog"
	consumerInventory  = "inventory"
	consumerPromotions = "promotions"
	consumerCheckouts  = "checkouts"
)

// InventoryEvents are the inventory events whose levels feed the stock read model.
var InventoryEvents = []string{"InventoryReserved", "InventoryReleased", "InventoryDeducted", "InventoryRestocked", "OutOfStock"}

// Start implements es.Module.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	if err := es.MigrateDir(ctx, h.Store(), "cart", migrations, "migrations"); err != nil {
		return fmt.Errorf("cart: migrate: %w", err)
	}
	m.h = h
	m.carts = &es.Aggregate[Cart, any]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID, StreamType: "cart",
		Decider: Decider, Inline: m.inline, SnapshotEvery: 10, SnapshotVersion: 1}
	h.Consume(consumerCatalog, []string{"CategoryCreated", "ProductCreated", "ProductUpdated", "ProductVariantAdded", "ProductDeactivated"}, m.onCatalog)
	h.ConsumeBatch(consumerInventory, InventoryEvents, m.onInventory)
	h.Consume(consumerPromotions, []string{"PromotionCreated"}, m.onPromotion)
	h.Consume(consumerCheckouts, []string{"CheckoutCompleted", "CheckoutFailed"}, m.onCheckout)
	m.watch.mu.Lock()
	m.watch.decided, m.watch.every = m.decidedCheckouts, recheckOther
	m.watch.mu.Unlock()
	return nil
}
