package cart

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"acme"
	"acme/es"
)

// timeFormat is how read models store times (fixed width, sortable).
const timeFormat = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// Local views of the events the cart consumes (tolerant readers: only the
// fields the cart needs, see docs/messages.md).
type (
	productCreated struct {
		ProductID    string     `json:"productId"`
		Name         string     `json:"name"`
		Price        acme.Money `json:"price"`
		CategoryID   string     `json:"categoryId"`
		InitialStock int64      `json:"initialStock"`
	}
	productUpdated struct {
		ProductID  string     `json:"productId"`
		Name       string     `json:"name"`
		CategoryID string     `json:"categoryId"`
		Price      acme.Money `json:"price"`
	}
	variantAdded struct {
		ProductID     string     `json:"productId"`
		VariantID     string     `json:"variantId"`
		Size          string     `json:"size"`
		Color         string     `json:"color"`
		PriceModifier acme.Money `json:"priceModifier"`
		InitialStock  int64      `json:"initialStock"`
	}
	productDeactivated struct {
		ProductID string `json:"productId"`
	}
	stockEvent struct {
		ProductID string `json:"productId"` // OutOfStock
		VariantID string `json:"variantId"`
		Levels    []struct {
			ProductID string `json:"productId"`
			VariantID string `json:"variantId"`
			Available int64  `json:"available"`
		} `json:"levels"`
	}
	promotionCreated struct {
		PromotionID string      `json:"promotionId"`
		Code        string      `json:"code"`
		Kind        string      `json:"kind"`
		Percent     float64     `json:"percent"`
		Amount      *acme.Money `json:"amount"`
		MinSubtotal *acme.Money `json:"minSubtotal"`
		ProductIDs  []string    `json:"productIds"`
		CategoryIDs []string    `json:"categoryIds"`
		StartsAt    *time.Time  `json:"startsAt"`
		EndsAt      *time.Time  `json:"endsAt"`
	}
	checkoutCompleted struct {
		CheckoutID string `json:"checkoutId"`
		CustomerID string `json:"customerId"`
		OrderID    string `json:"orderId"`
	}
	checkoutFailed struct {
		CheckoutID string `json:"checkoutId"`
		CartID     string `json:"cartId"`
		CustomerID string `json:"customerId"`
		Reason     string `json:"reason"`
		OrderID    string `json:"orderId"` // set when the order was created before the failure
	}
)

func apply(f func(ctx context.Context, tx es.SQL) error) es.Commit {
	return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error { return f(ctx, tx) }}
}

const initStock = `INSERT INTO cart_stock (product_id, variant_id, available, position) VALUES ($1, $2, $3, 0)
	ON CONFLICT (product_id, variant_id) DO NOTHING`

// onCatalog keeps cart_categories, cart_products and cart_variants (consumer cart.catalog).
func (m *Module) onCatalog(ctx context.Context, msg es.Message) (es.Commit, error) {
	switch msg.Type {
	case "CategoryCreated":
		var e struct {
			CategoryID string `json:"categoryId"`
			ParentID   string `json:"parentId"`
		}
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		return apply(func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO cart_categories (category_id, parent_id) VALUES ($1, $2)
				ON CONFLICT (category_id) DO NOTHING`, e.CategoryID, e.ParentID)
			return err
		}), nil
	case "ProductCreated":
		var e productCreated
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		return apply(func(ctx context.Context, tx es.SQL) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_products (product_id, name, price_amount, price_currency, category_id, active)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (product_id) DO UPDATE SET name = excluded.name,
				price_amount = excluded.price_amount, price_currency = excluded.price_currency, category_id = excluded.category_id`,
				e.ProductID, e.Name, e.Price.Amount, e.Price.Currency, e.CategoryID, true); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, initStock, e.ProductID, "", e.InitialStock)
			return err
		}), nil
	case "ProductUpdated":
		var e productUpdated
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		return apply(func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `UPDATE cart_products SET name = $2, price_amount = $3, price_currency = $4, category_id = $5
				WHERE product_id = $1`, e.ProductID, e.Name, e.Price.Amount, e.Price.Currency, e.CategoryID)
			return err
		}), nil
	case "ProductVariantAdded":
		var e variantAdded
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		label := strings.Join(nonEmpty(e.Size, e.Color), " / ")
		return apply(func(ctx context.Context, tx es.SQL) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_variants (variant_id, product_id, label, modifier_amount, modifier_currency)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT (variant_id) DO NOTHING`,
				e.VariantID, e.ProductID, label, e.PriceModifier.Amount, e.PriceModifier.Currency); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, initStock, e.ProductID, e.VariantID, e.InitialStock)
			return err
		}), nil
	case "ProductDeactivated":
		var e productDeactivated
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		return apply(func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `UPDATE cart_products SET active = $2 WHERE product_id = $1`, e.ProductID, false)
			return err
		}), nil
	}
	return es.Commit{}, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// onInventory keeps cart_stock from the levels of every stock event (consumer
// cart.inventory, a batch consumer: a backlog of levels is one commit). A level
// only replaces one set by an earlier inventory event.
func (m *Module) onInventory(ctx context.Context, ms []es.Message) (es.Commit, error) {
	type level struct {
		p, v   string
		n, pos int64
	}
	var levels []level
	for _, msg := range ms {
		var e stockEvent
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		for _, l := range e.Levels {
			levels = append(levels, level{l.ProductID, l.VariantID, max(l.Available, 0), msg.Position})
		}
		if msg.Type == "OutOfStock" && len(e.Levels) == 0 {
			levels = append(levels, level{e.ProductID, e.VariantID, 0, msg.Position})
		}
	}
	if len(levels) == 0 {
		return es.Commit{}, nil
	}
	return apply(func(ctx context.Context, tx es.SQL) error {
		for _, l := range levels {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_stock (product_id, variant_id, available, position) VALUES ($1, $2, $3, $4)
				ON CONFLICT (product_id, variant_id) DO UPDATE SET available = excluded.available, position = excluded.position
				WHERE cart_stock.position <= excluded.position`, l.p, l.v, l.n, l.pos); err != nil {
				return err
			}
		}
		return nil
	}), nil
}

// onPromotion keeps cart_promotions (consumer cart.promotions).
func (m *Module) onPromotion(ctx context.Context, msg es.Message) (es.Commit, error) {
	var e promotionCreated
	if err := es.DecodeData(msg, &e); err != nil {
		return es.Commit{}, err
	}
	var amount, minSub acme.Money
	if e.Amount != nil {
		amount = *e.Amount
	}
	if e.MinSubtotal != nil {
		minSub = *e.MinSubtotal
	}
	ids, _ := json.Marshal(orEmpty(e.ProductIDs))
	cats, _ := json.Marshal(orEmpty(e.CategoryIDs))
	var starts, ends string
	if e.StartsAt != nil {
		starts = fmtTime(*e.StartsAt)
	}
	if e.EndsAt != nil {
		ends = fmtTime(*e.EndsAt)
	}
	bp := int64(math.Round(e.Percent * 100))
	return apply(func(ctx context.Context, tx es.SQL) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cart_promotions (code_key, promotion_id, code, kind, percent_bp, amount, currency,
			min_amount, min_currency, product_ids, category_ids, starts_at, ends_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (code_key) DO NOTHING`,
			codeKey(e.Code), e.PromotionID, e.Code, e.Kind, bp, amount.Amount, amount.Currency, minSub.Amount, minSub.Currency,
			string(ids), string(cats), starts, ends)
		return err
	}), nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func codeKey(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// Checkout request statuses.
const (
	StatusPending   = "PENDING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
)

// inline projects the cart's own events in the append's transaction: a
// checkout request is PENDING from the moment of checkout.
func (m *Module) inline(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, e := range events {
		if e.Type != CartCheckedOut.Name() {
			continue
		}
		v, err := CartCheckedOut.Decode(e)
		if err != nil {
			return err
		}
		items, err := json.Marshal(v.Items)
		if err != nil {
			return err
		}
		at := fmtTime(v.CheckedOutAt)
		if _, err := tx.ExecContext(ctx, `INSERT INTO cart_checkouts (checkout_id, customer_id, cart_id, status, order_id,
			failure_reason, items, promotion_code, created_at, updated_at) VALUES ($1, $2, $3, $4, '', '', $5, $6, $7, $7)
			ON CONFLICT (checkout_id) DO NOTHING`, v.CheckoutID, v.CustomerID, v.CartID, StatusPending, string(items), v.PromotionCode, at); err != nil {
			return err
		}
	}
	return nil
}

// checkoutRow is a checkout request as stored.
type checkoutRow struct {
	CheckoutID, CustomerID, CartID, Status, OrderID, FailureReason, PromotionCode string
	Items                                                                         []Line
}

// decidedCheckouts returns which of ids are no longer PENDING (for the
// long polls' poller). The ids go in chunks of decidedChunk, the last one
// padded by repeating an id, so the query text is always the same: one
// prepared statement, not one per list length in the store's statement cache.
func (m *Module) decidedCheckouts(ctx context.Context, ids []string) ([]string, error) {
	var decided []string
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), decidedChunk)]
		ids = ids[len(chunk):]
		args := make([]any, decidedChunk+1)
		args[0] = StatusPending
		for i := range decidedChunk {
			args[i+1] = chunk[min(i, len(chunk)-1)]
		}
		rows, err := m.h.Store().DB().QueryContext(ctx, decidedQuery, args...)
		if err != nil {
			return decided, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return decided, err
			}
			decided = append(decided, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return decided, err
		}
	}
	return decided, nil
}

const decidedChunk = 64

// decidedQuery is SELECT ... WHERE status <> $1 AND checkout_id IN ($2, ..., $65).
var decidedQuery = func() string {
	ph := make([]string, decidedChunk)
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+2)
	}
	return `SELECT checkout_id FROM cart_checkouts WHERE status <> $1 AND checkout_id IN (` + strings.Join(ph, ", ") + `)`
}()

func (m *Module) checkoutRow(ctx context.Context, db es.SQL, id string) (checkoutRow, bool, error) {
	var r checkoutRow
	var items string
	err := db.QueryRowContext(ctx, `SELECT checkout_id, customer_id, cart_id, status, order_id, failure_reason, items, promotion_code
		FROM cart_checkouts WHERE checkout_id = $1`, id).Scan(&r.CheckoutID, &r.CustomerID, &r.CartID, &r.Status, &r.OrderID,
		&r.FailureReason, &items, &r.PromotionCode)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal([]byte(items), &r.Items); err != nil {
		return r, false, err
	}
	return r, true, nil
}

// onCheckout follows the checkout saga's outcome (consumer cart.checkouts): the
// request becomes COMPLETED with the order id, or FAILED with the reason, and a
// failed checkout's lines come back into the customer's cart.
func (m *Module) onCheckout(ctx context.Context, msg es.Message) (es.Commit, error) {
	now := fmtTime(m.now())
	switch msg.Type {
	case "CheckoutCompleted":
		var e checkoutCompleted
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		c := apply(func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `UPDATE cart_checkouts SET status = $2, order_id = $3, updated_at = $4
				WHERE checkout_id = $1 AND status = $5`, e.CheckoutID, StatusCompleted, e.OrderID, now, StatusPending)
			return err
		})
		c.Committed = func() { m.watch.notify(e.CheckoutID) } // long polls read the outcome
		return c, nil
	case "CheckoutFailed":
		var e checkoutFailed
		if err := es.DecodeData(msg, &e); err != nil {
			return es.Commit{}, err
		}
		row, ok, err := m.checkoutRow(ctx, m.h.Store().DB(), e.CheckoutID)
		if err != nil {
			return es.Commit{}, err
		}
		if !ok || row.Status != StatusPending {
			return es.Commit{}, nil // unknown to the cart, or decided already
		}
		c := es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			_, err := tx.ExecContext(ctx, `UPDATE cart_checkouts SET status = $2, failure_reason = $3, order_id = $6, updated_at = $4
				WHERE checkout_id = $1 AND status = $5`, e.CheckoutID, StatusFailed, e.Reason, now, StatusPending, e.OrderID)
			return err
		}, Committed: func() { m.watch.notify(e.CheckoutID) }}
		app, _, err := m.carts.Decide(ctx, streamID(row.CustomerID), restoreCart{CustomerID: row.CustomerID, CheckoutID: row.CheckoutID,
			Items: row.Items, PromotionCode: row.PromotionCode, Reason: e.Reason, At: m.now()})
		if err != nil {
			return es.Commit{}, err
		}
		if len(app.Events) > 0 {
			c.Appends = []es.Append{app}
		}
		return c, nil
	}
	return es.Commit{}, nil
}

// lookup returns what the read models know of a product variant.
func (m *Module) lookup(ctx context.Context, productID, variantID string) (Product, error) {
	db := m.h.Store().DB()
	var p Product
	if !acme.ValidID(productID) {
		return p, nil
	}
	// One statement, so one read snapshot: the product, whether it has
	// variants, the variant asked for, and the stock item's availability.
	var label, modCurrency string
	var modAmount int64
	err := db.QueryRowContext(ctx, `SELECT p.name, p.price_amount, p.price_currency, p.category_id, p.active,
			EXISTS (SELECT 1 FROM cart_variants x WHERE x.product_id = p.product_id),
			v.variant_id IS NOT NULL, COALESCE(v.label, ''), COALESCE(v.modifier_amount, 0), COALESCE(v.modifier_currency, ''),
			COALESCE((SELECT s.available FROM cart_stock s WHERE s.product_id = p.product_id AND s.variant_id = $2), 0)
		FROM cart_products p LEFT JOIN cart_variants v ON v.variant_id = $2 AND v.product_id = p.product_id
		WHERE p.product_id = $1`, productID, variantID).Scan(&p.Name, &p.Price.Amount, &p.Price.Currency, &p.CategoryID, &p.Active,
		&p.HasVariants, &p.VariantFound, &label, &modAmount, &modCurrency, &p.Available)
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, nil
	}
	if err != nil {
		return Product{}, err
	}
	p.Found = true
	if p.VariantFound {
		p.Price.Amount += modAmount
		if label != "" {
			p.Name += " (" + label + ")"
		}
	}
	return p, nil
}

// promotion returns the cart's view of the promotion with code (nil: unknown).
func (m *Module) promotion(ctx context.Context, code string) (*Promotion, error) {
	var p Promotion
	var minAmount int64
	var minCur, ids, cats, starts, ends string
	err := m.h.Store().DB().QueryRowContext(ctx, `SELECT promotion_id, code, kind, percent_bp, amount, currency, min_amount,
		min_currency, product_ids, category_ids, starts_at, ends_at FROM cart_promotions WHERE code_key = $1`, codeKey(code)).Scan(
		&p.PromotionID, &p.Code, &p.Kind, &p.PercentBP, &p.Amount.Amount, &p.Amount.Currency, &minAmount, &minCur, &ids, &cats, &starts, &ends)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if minCur != "" {
		p.MinSubtotal = &acme.Money{Amount: minAmount, Currency: minCur}
	}
	_ = json.Unmarshal([]byte(ids), &p.ProductIDs)
	_ = json.Unmarshal([]byte(cats), &p.CategoryIDs)
	p.StartsAt, p.EndsAt = parseTime(starts), parseTime(ends)
	return &p, nil
}
