package inventory

import (
	"maps"

	"acme"
	"acme/es"
)

// Error codes of inventory (mapped in httpapi's status table).
const (
	CodeInvalidQuantity   = "invalid_quantity"
	CodeInsufficientStock = "insufficient_stock"
	CodeProductNotFound   = "product_not_found"
	CodeVariantRequired   = "variant_required"
)

// MaxRestock bounds one restock so that onHand can never overflow.
const MaxRestock = 1_000_000_000

// StockItem is the state of one stock item: a product without variants, or one
// variant of a product. Invariant: 0 <= Reserved <= OnHand, so Available >= 0.
type StockItem struct {
	ProductID string           `json:"productId"`
	VariantID string           `json:"variantId"`
	OnHand    int64            `json:"onHand"`
	Reserved  int64            `json:"reserved"`
	Holds     map[string]int64 `json:"holds"` // checkoutId -> units held
}

// Available is what can still be reserved.
func (s StockItem) Available() int64 { return s.OnHand - s.Reserved }

// Level is the item's public stock level.
func (s StockItem) Level() Level {
	return Level{ProductID: s.ProductID, VariantID: s.VariantID, OnHand: s.OnHand, Reserved: s.Reserved, Available: s.Available()}
}

// StockStreamID is the stream of a stock item.
func StockStreamID(productID, variantID string) string {
	if variantID == "" {
		return "stock-" + productID
	}
	return "stock-" + productID + "-" + variantID
}

// StockCommand is a command on one stock item.
type StockCommand interface{ stockCommand() }

// Restock adds Quantity units.
type Restock struct {
	ProductID, VariantID string
	Quantity             int64
	At                   string
}

// Hold reserves Quantity units for a checkout (idempotent per checkout).
type Hold struct {
	CheckoutID           string
	ProductID, VariantID string
	Quantity             int64
	At                   string
}

// Unhold gives a checkout's held units back (no-op when nothing is held).
type Unhold struct {
	CheckoutID, Reason, At string
}

// DeductHold ships a checkout's held units (no-op when nothing is held).
type DeductHold struct {
	CheckoutID, OrderID, At string
}

func (Restock) stockCommand()    {}
func (Hold) stockCommand()       {}
func (Unhold) stockCommand()     {}
func (DeductHold) stockCommand() {}

// StockDecider is the stock item aggregate.
var StockDecider = es.Decider[StockItem, StockCommand]{
	Decide: decideStock,
	Evolve: evolveStock,
}

func decideStock(s StockItem, cmd StockCommand) ([]any, error) {
	switch c := cmd.(type) {
	case Restock:
		if c.Quantity < 1 || c.Quantity > MaxRestock {
			return nil, acme.Errorf(CodeInvalidQuantity, "quantity must be an integer from 1 to %d", MaxRestock)
		}
		s.ProductID, s.VariantID = c.ProductID, c.VariantID
		after := evolveStock(s, InventoryRestockedV1{ProductID: c.ProductID, VariantID: c.VariantID, Quantity: c.Quantity})
		return []any{InventoryRestockedV1{ProductID: c.ProductID, VariantID: c.VariantID, Quantity: c.Quantity,
			Levels: []Level{after.Level()}, RestockedAt: c.At}}, nil
	case Hold:
		if c.Quantity < 1 {
			return nil, acme.Errorf(CodeInvalidQuantity, "quantity must be at least 1")
		}
		if _, held := s.Holds[c.CheckoutID]; held {
			return nil, nil
		}
		if s.Available() < c.Quantity {
			return nil, acme.Errorf(CodeInsufficientStock, "%d requested, %d available", c.Quantity, s.Available())
		}
		s.ProductID, s.VariantID = c.ProductID, c.VariantID
		e := StockHeldV1{CheckoutID: c.CheckoutID, ProductID: c.ProductID, VariantID: c.VariantID, Quantity: c.Quantity, At: c.At}
		after := evolveStock(s, e)
		e.Levels = []Level{after.Level()}
		out := []any{e}
		if after.Available() == 0 {
			out = append(out, OutOfStockV1{ProductID: c.ProductID, VariantID: c.VariantID, At: c.At})
		}
		return out, nil
	case Unhold:
		q, held := s.Holds[c.CheckoutID]
		if !held {
			return nil, nil
		}
		e := StockHoldReleasedV1{CheckoutID: c.CheckoutID, ProductID: s.ProductID, VariantID: s.VariantID, Quantity: q, Reason: c.Reason, At: c.At}
		e.Levels = []Level{evolveStock(s, e).Level()}
		return []any{e}, nil
	case DeductHold:
		q, held := s.Holds[c.CheckoutID]
		if !held {
			return nil, nil
		}
		e := StockHoldDeductedV1{CheckoutID: c.CheckoutID, OrderID: c.OrderID, ProductID: s.ProductID, VariantID: s.VariantID, Quantity: q, At: c.At}
		e.Levels = []Level{evolveStock(s, e).Level()}
		return []any{e}, nil
	}
	return nil, acme.Errorf(acme.CodeBadRequest, "unknown stock command %T", cmd)
}

// evolveStock never mutates its input (the holds map is copied on write).
func evolveStock(s StockItem, event any) StockItem {
	switch e := event.(type) {
	case InventoryRestockedV1:
		s.ProductID, s.VariantID = e.ProductID, e.VariantID
		s.OnHand += e.Quantity
	case StockHeldV1:
		s.ProductID, s.VariantID = e.ProductID, e.VariantID
		s.Reserved += e.Quantity
		s.Holds = maps.Clone(s.Holds)
		if s.Holds == nil {
			s.Holds = map[string]int64{}
		}
		s.Holds[e.CheckoutID] = e.Quantity
	case StockHoldReleasedV1:
		s.Reserved -= e.Quantity
		s.Holds = maps.Clone(s.Holds)
		delete(s.Holds, e.CheckoutID)
	case StockHoldDeductedV1:
		s.Reserved -= e.Quantity
		s.OnHand -= e.Quantity
		s.Holds = maps.Clone(s.Holds)
		delete(s.Holds, e.CheckoutID)
	}
	return s
}
