package inventory

import "acme/es"

const owner = "inventory"

// Level is one stock item after a change: carried by every stock event.
type Level struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
	OnHand    int64  `json:"onHand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
}

// Line is one line of a reservation.
type Line struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
	Quantity  int64  `json:"quantity"`
}

// Shortage is a line that could not be reserved.
type Shortage struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// RestockInventoryV1 (command, HTTP): add units to a stock item.
type RestockInventoryV1 struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
	Quantity  int64  `json:"quantity"`
}

// ReserveInventoryV1 (command, from checkout): hold every line or none.
type ReserveInventoryV1 struct {
	CheckoutID string `json:"checkoutId"`
	Items      []Line `json:"items"`
	ExpiresAt  string `json:"expiresAt"`
}

// ReleaseInventoryV1 (command, from checkout and ordering): give the held units back.
type ReleaseInventoryV1 struct {
	CheckoutID string `json:"checkoutId"`
	Reason     string `json:"reason"` // CHECKOUT_FAILED | ORDER_CANCELLED | EXPIRED
}

// DeductInventoryV1 (command, from ordering on shipping): the held units leave the warehouse.
type DeductInventoryV1 struct {
	CheckoutID string `json:"checkoutId"`
	OrderID    string `json:"orderId"`
}

// InventoryReservedV1: every line of a checkout is held until expiresAt (or until committed).
type InventoryReservedV1 struct {
	CheckoutID string  `json:"checkoutId"`
	Items      []Line  `json:"items"`
	Levels     []Level `json:"levels"`
	ReservedAt string  `json:"reservedAt"`
	ExpiresAt  string  `json:"expiresAt"`
}

// InventoryUnavailableV1: a reservation was refused; nothing is held.
type InventoryUnavailableV1 struct {
	CheckoutID string     `json:"checkoutId"`
	Items      []Shortage `json:"items"`
	At         string     `json:"at"`
}

// InventoryReleasedV1: a reservation's units are available again.
type InventoryReleasedV1 struct {
	CheckoutID string  `json:"checkoutId"`
	Reason     string  `json:"reason"`
	Items      []Line  `json:"items"`
	Levels     []Level `json:"levels"`
	ReleasedAt string  `json:"releasedAt"`
}

// InventoryDeductedV1: a reservation's units were shipped (onHand and reserved both drop).
type InventoryDeductedV1 struct {
	CheckoutID string  `json:"checkoutId"`
	OrderID    string  `json:"orderId"`
	Items      []Line  `json:"items"`
	Levels     []Level `json:"levels"`
	DeductedAt string  `json:"deductedAt"`
}

// InventoryRestockedV1: units were added to a stock item.
type InventoryRestockedV1 struct {
	ProductID   string  `json:"productId"`
	VariantID   string  `json:"variantId"`
	Quantity    int64   `json:"quantity"`
	Levels      []Level `json:"levels"`
	RestockedAt string  `json:"restockedAt"`
}

// OutOfStockV1: a stock item's available units reached zero.
type OutOfStockV1 struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
	At        string `json:"at"`
}

// Internal events of the stock-item streams: one per stock item a reservation
// touches, appended in the same commit as the reservation's public event so the
// item's version guards against overselling.

// StockHeldV1: units of one stock item are held for a checkout.
type StockHeldV1 struct {
	CheckoutID string  `json:"checkoutId"`
	ProductID  string  `json:"productId"`
	VariantID  string  `json:"variantId"`
	Quantity   int64   `json:"quantity"`
	Levels     []Level `json:"levels"`
	At         string  `json:"at"`
}

// StockHoldReleasedV1: a checkout's hold on one stock item was given back.
type StockHoldReleasedV1 struct {
	CheckoutID string  `json:"checkoutId"`
	ProductID  string  `json:"productId"`
	VariantID  string  `json:"variantId"`
	Quantity   int64   `json:"quantity"`
	Reason     string  `json:"reason"`
	Levels     []Level `json:"levels"`
	At         string  `json:"at"`
}

// StockHoldDeductedV1: a checkout's held units of one stock item were shipped.
type StockHoldDeductedV1 struct {
	CheckoutID string  `json:"checkoutId"`
	OrderID    string  `json:"orderId"`
	ProductID  string  `json:"productId"`
	VariantID  string  `json:"variantId"`
	Quantity   int64   `json:"quantity"`
	Levels     []Level `json:"levels"`
	At         string  `json:"at"`
}

// ReservationCommittedV1: the checkout's order was confirmed; the reservation no longer expires.
type ReservationCommittedV1 struct {
	CheckoutID  string `json:"checkoutId"`
	OrderID     string `json:"orderId"`
	CommittedAt string `json:"committedAt"`
}

// Messages owned by inventory.
var (
	RestockInventory = es.Define[RestockInventoryV1](es.MessageSpec{Name: "RestockInventory", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"admin"}, Consumers: []string{owner}, Summary: "Add units to the stock of a product or variant (HTTP)."})
	ReserveInventory = es.Define[ReserveInventoryV1](es.MessageSpec{Name: "ReserveInventory", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"checkout"}, Consumers: []string{owner}, Summary: "Hold stock for every line of a checkout, all or none."})
	ReleaseInventory = es.Define[ReleaseInventoryV1](es.MessageSpec{Name: "ReleaseInventory", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"checkout", "ordering"}, Consumers: []string{owner}, Summary: "Give a checkout's held stock back; a no-op for an unknown or finished reservation."})
	DeductInventory = es.Define[DeductInventoryV1](es.MessageSpec{Name: "DeductInventory", Kind: es.KindCommand, Owner: owner,
		Producers: []string{"ordering"}, Consumers: []string{owner}, Summary: "The held units of a shipped order leave the warehouse."})

	InventoryReserved = es.Define[InventoryReservedV1](es.MessageSpec{Name: "InventoryReserved", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"checkout", "search", "cart"}, Summary: "Every line of a checkout is held."})
	InventoryUnavailable = es.Define[InventoryUnavailableV1](es.MessageSpec{Name: "InventoryUnavailable", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"checkout"}, Summary: "A reservation was refused for lack of stock; nothing is held."})
	InventoryReleased = es.Define[InventoryReleasedV1](es.MessageSpec{Name: "InventoryReleased", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"search", "cart", "checkout"}, Summary: "A reservation's units are available again."})
	InventoryDeducted = es.Define[InventoryDeductedV1](es.MessageSpec{Name: "InventoryDeducted", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"search", "cart"}, Summary: "A reservation's units left the warehouse."})
	InventoryRestocked = es.Define[InventoryRestockedV1](es.MessageSpec{Name: "InventoryRestocked", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"search", "cart"}, Summary: "Units were added to a stock item."})
	OutOfStock = es.Define[OutOfStockV1](es.MessageSpec{Name: "OutOfStock", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Consumers: []string{"notifications", "search", "cart"}, Summary: "A stock item's available units reached zero."})

	StockHeld = es.Define[StockHeldV1](es.MessageSpec{Name: "StockHeld", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "Internal: units of one stock item held for a checkout."})
	StockHoldReleased = es.Define[StockHoldReleasedV1](es.MessageSpec{Name: "StockHoldReleased", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "Internal: a checkout's hold on one stock item given back."})
	StockHoldDeducted = es.Define[StockHoldDeductedV1](es.MessageSpec{Name: "StockHoldDeducted", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "Internal: a checkout's held units of one stock item shipped."})
	ReservationCommitted = es.Define[ReservationCommittedV1](es.MessageSpec{Name: "ReservationCommitted", Kind: es.KindEvent, Owner: owner,
		Producers: []string{owner}, Summary: "Internal: the checkout's order was confirmed; the reservation no longer expires."})
)

// messages lists everything inventory declares.
// GetStockLevelV1 is the Get Stock Level query (GET /api/v1/inventory/{productId}).
type GetStockLevelV1 struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId,omitempty"`
}

// GetStockLevel is declared for the catalog of messages.
var GetStockLevel = es.Define[GetStockLevelV1](es.MessageSpec{Name: "GetStockLevel", Kind: es.KindQuery, Version: "1.0.0",
	Owner: "inventory", Producers: []string{"storefront", "cart"}, Consumers: []string{"inventory"},
	Summary: "The current stock level (onHand, reserved, available) of a product or one of its variants."})

var messages = []es.MessageType{
	GetStockLevel, RestockInventory, ReserveInventory, ReleaseInventory, DeductInventory,
	InventoryReserved, InventoryUnavailable, InventoryReleased, InventoryDeducted, InventoryRestocked, OutOfStock,
	StockHeld, StockHoldReleased, StockHoldDeducted, ReservationCommitted,
}
