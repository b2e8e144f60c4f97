package inventory

import (
	"context"
	"encoding/json"
	"fmt"

	"acme"
	"acme/es"
)

// apply writes inventory's inline read models in the transaction of every
// commit of its streams: stock levels (from each event's levels) and the
// reservations the expiry sweeper scans.
func (s *Service) apply(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, e := range events {
		var body struct {
			Levels     []Level `json:"levels"`
			CheckoutID string  `json:"checkoutId"`
			ExpiresAt  string  `json:"expiresAt"`
		}
		if err := json.Unmarshal(e.Data, &body); err != nil {
			return fmt.Errorf("inventory: project %s: %w", e.Type, err)
		}
		for _, l := range body.Levels {
			if err := upsertLevel(ctx, tx, l); err != nil {
				return err
			}
		}
		status := ""
		switch e.Type {
		case InventoryReserved.Name():
			status = StatusReserved
		case InventoryUnavailable.Name():
			status = StatusUnavailable
		case ReservationCommitted.Name():
			status = StatusCommitted
		case InventoryReleased.Name():
			status = StatusReleased
		case InventoryDeducted.Name():
			status = StatusDeducted
		}
		if status == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_reservations (checkout_id, status, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (checkout_id) DO UPDATE SET status = excluded.status,
			expires_at = CASE WHEN excluded.expires_at = '' THEN inventory_reservations.expires_at ELSE excluded.expires_at END`,
			body.CheckoutID, status, body.ExpiresAt); err != nil {
			return fmt.Errorf("inventory: project reservation: %w", err)
		}
	}
	return nil
}

func upsertLevel(ctx context.Context, tx es.SQL, l Level) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO inventory_levels (product_id, variant_id, on_hand, reserved, available)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (product_id, variant_id) DO UPDATE SET
		on_hand = excluded.on_hand, reserved = excluded.reserved, available = excluded.available`,
		l.ProductID, l.VariantID, l.OnHand, l.Reserved, l.Available)
	if err != nil {
		return fmt.Errorf("inventory: project level: %w", err)
	}
	return nil
}

// Local views of other contexts' events (tolerant readers: only the fields used).
type productCreated struct {
	ProductID    string `json:"productId"`
	InitialStock int64  `json:"initialStock"`
}

type variantAdded struct {
	ProductID    string `json:"productId"`
	VariantID    string `json:"variantId"`
	InitialStock int64  `json:"initialStock"`
}

type productDeactivated struct {
	ProductID string `json:"productId"`
}

type orderConfirmed struct {
	OrderID    string `json:"orderId"`
	CheckoutID string `json:"checkoutId"`
}

// onCatalog keeps inventory's view of products and variants and turns their
// initial stock into InventoryRestocked.
func (s *Service) onCatalog(ctx context.Context, m es.Message) (es.Commit, error) {
	switch m.Type {
	case "ProductCreated":
		var p productCreated
		if err := json.Unmarshal(m.Data, &p); err != nil || p.ProductID == "" {
			return es.Commit{}, es.Permanent(fmt.Errorf("inventory: bad ProductCreated %s: %v", m.ID, err))
		}
		return s.initialStock(ctx, p.ProductID, "", p.InitialStock, func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO inventory_products (product_id, active, has_variants) VALUES ($1, $2, $3)
				ON CONFLICT (product_id) DO NOTHING`, p.ProductID, true, false)
			return err
		})
	case "ProductVariantAdded":
		var v variantAdded
		if err := json.Unmarshal(m.Data, &v); err != nil || v.ProductID == "" || v.VariantID == "" {
			return es.Commit{}, es.Permanent(fmt.Errorf("inventory: bad ProductVariantAdded %s: %v", m.ID, err))
		}
		return s.initialStock(ctx, v.ProductID, v.VariantID, v.InitialStock, func(ctx context.Context, tx es.SQL) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_products (product_id, active, has_variants) VALUES ($1, $2, $3)
				ON CONFLICT (product_id) DO UPDATE SET has_variants = excluded.has_variants`, v.ProductID, true, true); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO inventory_variants (product_id, variant_id) VALUES ($1, $2)
				ON CONFLICT (product_id, variant_id) DO NOTHING`, v.ProductID, v.VariantID)
			return err
		})
	case "ProductDeactivated":
		var p productDeactivated
		if err := json.Unmarshal(m.Data, &p); err != nil || p.ProductID == "" {
			return es.Commit{}, es.Permanent(fmt.Errorf("inventory: bad ProductDeactivated %s: %v", m.ID, err))
		}
		return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			_, err := tx.ExecContext(ctx, `UPDATE inventory_products SET active = $1 WHERE product_id = $2`, false, p.ProductID)
			return err
		}}, nil
	}
	return es.Commit{}, nil
}

// initialStock records a product or variant and, for initialStock > 0,
// restocks its stock item in the same commit.
func (s *Service) initialStock(ctx context.Context, productID, variantID string, qty int64, record func(context.Context, es.SQL) error) (es.Commit, error) {
	c := es.Commit{}
	if qty > 0 {
		app, _, err := s.stock.Decide(ctx, StockStreamID(productID, variantID),
			Restock{ProductID: productID, VariantID: variantID, Quantity: min(qty, MaxRestock), At: ts(s.clock.Now())})
		if err != nil {
			return es.Commit{}, err
		}
		c.Appends = []es.Append{app}
	}
	c.Apply = func(ctx context.Context, tx es.SQL, events []es.Event) error {
		if err := record(ctx, tx); err != nil {
			return fmt.Errorf("inventory: record product: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_levels (product_id, variant_id, on_hand, reserved, available)
			VALUES ($1, $2, 0, 0, 0) ON CONFLICT (product_id, variant_id) DO NOTHING`, productID, variantID); err != nil {
			return fmt.Errorf("inventory: record level: %w", err)
		}
		return s.apply(ctx, tx, events)
	}
	return c, nil
}

// onCommands handles a batch of the commands inventory owns (sent by checkout
// and ordering) as one plan and one commit: each command sees the effects of
// the ones before it, so the batch decides what the commands would one commit
// each, in bus order. An invalid command fails the batch, whose commands the
// platform then applies one at a time (the invalid one dead-lettered).
func (s *Service) onCommands(ctx context.Context, ms []es.Message) (es.Commit, error) {
	p := s.newPlan()
	for _, m := range ms {
		if err := s.planCommand(es.HandlerContext(ctx, m), p, m); err != nil {
			if acme.ErrorCode(err) != "" {
				err = es.Permanent(err) // an invalid command: no retry can fix it
			}
			return es.Commit{}, err
		}
	}
	return p.commit(), nil
}

func (s *Service) planCommand(ctx context.Context, p *plan, m es.Message) error {
	switch m.Type {
	case ReserveInventory.Name():
		cmd, err := ReserveInventory.DecodeMessage(m)
		if err != nil {
			return es.Permanent(err)
		}
		return p.reserve(ctx, ReserveCmd{CheckoutID: cmd.CheckoutID, Items: cmd.Items, ExpiresAt: cmd.ExpiresAt})
	case ReleaseInventory.Name():
		cmd, err := ReleaseInventory.DecodeMessage(m)
		if err != nil {
			return es.Permanent(err)
		}
		return p.release(ctx, ReleaseCmd{CheckoutID: cmd.CheckoutID, Reason: cmd.Reason})
	case DeductInventory.Name():
		cmd, err := DeductInventory.DecodeMessage(m)
		if err != nil {
			return es.Permanent(err)
		}
		return p.deduct(ctx, DeductCmd{CheckoutID: cmd.CheckoutID, OrderID: cmd.OrderID})
	}
	return nil
}

// onOrders commits a reservation when its order is confirmed.
func (s *Service) onOrders(ctx context.Context, m es.Message) (es.Commit, error) {
	var o orderConfirmed
	if err := json.Unmarshal(m.Data, &o); err != nil {
		return es.Commit{}, es.Permanent(fmt.Errorf("inventory: bad %s %s: %w", m.Type, m.ID, err))
	}
	if o.CheckoutID == "" {
		return es.Commit{}, nil
	}
	return s.PlanCommit(ctx, CommitCmd{CheckoutID: o.CheckoutID, OrderID: o.OrderID})
}
