package ordering

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
)

// timeFormat is the fixed-width UTC time of the read models (sorts as text).
const timeFormat = "2006-01-02T15:04:05.000000Z"

// View is an order as the contract shows it.
type View struct {
	OrderID                string         `json:"orderId"`
	CustomerID             string         `json:"customerId"`
	CheckoutID             string         `json:"checkoutId"`
	Status                 string         `json:"status"`
	LineItems              []LineItemView `json:"lineItems"`
	Subtotal               acme.Money     `json:"subtotal"`
	Discount               acme.Money     `json:"discount"`
	TotalAmount            acme.Money     `json:"totalAmount"`
	ShippingAddress        Address        `json:"shippingAddress"`
	PaymentAuthorizationID string         `json:"paymentAuthorizationId"`
	TrackingNumber         string         `json:"trackingNumber,omitempty"`
	Carrier                string         `json:"carrier,omitempty"`
	ReadyForShipping       bool           `json:"readyForShipping,omitempty"`
	CancelReason           string         `json:"cancelReason,omitempty"`
	PlacedAt               time.Time      `json:"placedAt"`
	UpdatedAt              time.Time      `json:"updatedAt"`
	Version                int64          `json:"version"`
}

// LineItemView is a line as the API shows it: variantId is null for a
// product without variants.
type LineItemView struct {
	ProductID string             `json:"productId"`
	VariantID httpapi.OptionalID `json:"variantId"`
	Name      string             `json:"name"`
	Quantity  int64              `json:"quantity"`
	UnitPrice acme.Money         `json:"unitPrice"`
	LineTotal acme.Money         `json:"lineTotal"`
}

// ViewOf returns the contract's view of o at version.
func ViewOf(o Order, version int64) View {
	items := make([]LineItemView, 0, len(o.LineItems))
	for _, l := range o.LineItems {
		items = append(items, LineItemView{ProductID: l.ProductID, VariantID: httpapi.OptionalID(l.VariantID), Name: l.Name,
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: l.LineTotal})
	}
	return View{OrderID: o.OrderID, CustomerID: o.CustomerID, CheckoutID: o.CheckoutID, Status: o.Status,
		LineItems: items, Subtotal: o.Subtotal, Discount: o.Discount, TotalAmount: o.TotalAmount,
		ShippingAddress: o.ShippingAddress, PaymentAuthorizationID: o.PaymentAuthorizationID,
		TrackingNumber: o.TrackingNumber, Carrier: o.Carrier, ReadyForShipping: o.ReadyForShipping,
		CancelReason: o.CancelReason, PlacedAt: o.PlacedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), Version: version}
}

// upsertOrder writes the order's row of the inline read model ordering_orders.
func upsertOrder(ctx context.Context, tx es.SQL, o Order, version int64) error {
	doc, err := json.Marshal(ViewOf(o, version))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ordering_orders (order_id, customer_id, status, placed_at, updated_at, version, doc)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at,
  version = excluded.version, doc = excluded.doc`,
		o.OrderID, o.CustomerID, o.Status, o.PlacedAt.UTC().Format(timeFormat), o.UpdatedAt.UTC().Format(timeFormat), version, string(doc))
	if err != nil {
		return fmt.Errorf("ordering: upsert order %s: %w", o.OrderID, err)
	}
	return nil
}

// ListQuery filters the order list.
type ListQuery struct {
	CustomerID string // "" = every customer (admin)
	Status     string // "" = every status
	Page, Size int
}

// List returns a page of orders, newest first, and the total matching.
func (m *Module) List(ctx context.Context, q ListQuery) ([]View, int, error) {
	where, args := "WHERE 1=1", []any{}
	if q.CustomerID != "" {
		args = append(args, q.CustomerID)
		where += fmt.Sprintf(" AND customer_id = $%d", len(args))
	}
	if q.Status != "" {
		args = append(args, q.Status)
		where += fmt.Sprintf(" AND status = $%d", len(args))
	}
	db := m.h.Store().DB()
	var total int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ordering_orders "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("ordering: count orders: %w", err)
	}
	args = append(args, q.Size, (q.Page-1)*q.Size)
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT doc FROM ordering_orders %s ORDER BY placed_at DESC, order_id DESC LIMIT $%d OFFSET $%d",
		where, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("ordering: list orders: %w", err)
	}
	defer rows.Close()
	out := []View{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, 0, err
		}
		var v View
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return nil, 0, fmt.Errorf("ordering: decode order row: %w", err)
		}
		out = append(out, v)
	}
	return out, total, rows.Err()
}
