package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"acme"
	"acme/es"
)

// timeFormat is the fixed-width RFC 3339 UTC format of stored times.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// CategoryView is a category as the API shows it (parentId null for a root).
type CategoryView struct {
	CategoryID string  `json:"categoryId"`
	Name       string  `json:"name"`
	ParentID   *string `json:"parentId" jsonschema:"nullable"` // null for a root
	Depth      int     `json:"depth"`
}

// ProductView is a product as the API shows it.
type ProductView struct {
	ProductID   string           `json:"productId"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Price       acme.Money       `json:"price"`
	CategoryID  string           `json:"categoryId"`
	Active      bool             `json:"active"`
	Variants    []ProductVariant `json:"variants"`
	CreatedAt   time.Time        `json:"createdAt"`
	UpdatedAt   time.Time        `json:"updatedAt"`
}

// ProductVariant is a variant inside a ProductView.
type ProductVariant struct {
	VariantID     string     `json:"variantId"`
	SKU           string     `json:"sku"`
	Size          string     `json:"size"`
	Color         string     `json:"color"`
	PriceModifier acme.Money `json:"priceModifier"`
}

// VariantView is the answer to AddProductVariant.
type VariantView struct {
	ProductID     string     `json:"productId"`
	VariantID     string     `json:"variantId"`
	SKU           string     `json:"sku"`
	Size          string     `json:"size"`
	Color         string     `json:"color"`
	PriceModifier acme.Money `json:"priceModifier"`
	InitialStock  int64      `json:"initialStock"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// project is the inline read model of the catalog: categories, products and
// variants, written in the transaction of every append. Idempotent (upserts).
func (m *Module) project(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, e := range events {
		if err := projectEvent(ctx, tx, e); err != nil {
			return fmt.Errorf("project %s: %w", e.Type, err)
		}
	}
	return nil
}

func projectEvent(ctx context.Context, tx es.SQL, e es.Event) error {
	switch e.Type {
	case CategoryCreated.Name():
		c, err := CategoryCreated.Decode(e)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO catalog_categories (category_id, name, name_key, parent_id, depth, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (category_id) DO NOTHING`,
			c.CategoryID, c.Name, nameKey(c.Name), c.ParentID, c.Depth, formatTime(c.CreatedAt))
		return err
	case ProductCreated.Name():
		p, err := ProductCreated.Decode(e)
		if err != nil {
			return err
		}
		at := formatTime(p.CreatedAt)
		_, err = tx.ExecContext(ctx, `INSERT INTO catalog_products (product_id, name, description, price_amount, price_currency,
			category_id, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (product_id) DO NOTHING`,
			p.ProductID, p.Name, p.Description, p.Price.Amount, p.Price.Currency, p.CategoryID, true, at, at)
		return err
	case ProductUpdated.Name():
		p, err := ProductUpdated.Decode(e)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE catalog_products SET name = $2, description = $3, price_amount = $4,
			price_currency = $5, category_id = $6, updated_at = $7 WHERE product_id = $1`,
			p.ProductID, p.Name, p.Description, p.Price.Amount, p.Price.Currency, p.CategoryID, formatTime(p.UpdatedAt))
		return err
	case ProductVariantAdded.Name():
		v, err := ProductVariantAdded.Decode(e)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_variants (variant_id, product_id, sku, sku_key, size, color,
			modifier_amount, modifier_currency, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (variant_id) DO NOTHING`,
			v.VariantID, v.ProductID, v.SKU, skuKey(v.SKU), v.Size, v.Color, v.PriceModifier.Amount, v.PriceModifier.Currency, e.Position); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE catalog_products SET updated_at = $2 WHERE product_id = $1`, v.ProductID, formatTime(v.AddedAt))
		return err
	case ProductDeactivated.Name():
		d, err := ProductDeactivated.Decode(e)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE catalog_products SET active = $2, updated_at = $3 WHERE product_id = $1`,
			d.ProductID, false, formatTime(d.DeactivatedAt))
		return err
	}
	return nil
}

// Product reads a product from the read model (deactivated ones too); not_found
// when unknown.
func (m *Module) Product(ctx context.Context, id string) (ProductView, error) {
	if m.h == nil {
		return ProductView{}, errNotStarted
	}
	notFound := acme.Errorf(acme.CodeNotFound, "product not found")
	if !acme.ValidID(id) {
		return ProductView{}, notFound
	}
	// One query: the product row joined with its variants (none: one row of NULLs).
	rows, err := m.h.Store().DB().QueryContext(ctx, `SELECT p.product_id, p.name, p.description, p.price_amount, p.price_currency,
		p.category_id, p.active, p.created_at, p.updated_at,
		v.variant_id, v.sku, v.size, v.color, v.modifier_amount, v.modifier_currency
		FROM catalog_products p LEFT JOIN catalog_variants v ON v.product_id = p.product_id
		WHERE p.product_id = $1 ORDER BY v.position`, id)
	if err != nil {
		return ProductView{}, fmt.Errorf("read product: %w", err)
	}
	defer rows.Close()
	p := ProductView{Variants: []ProductVariant{}}
	found := false
	for rows.Next() {
		var created, updated string
		var vid, sku, size, color, modCur sql.NullString
		var modAmt sql.NullInt64
		if err := rows.Scan(&p.ProductID, &p.Name, &p.Description, &p.Price.Amount, &p.Price.Currency, &p.CategoryID, &p.Active,
			&created, &updated, &vid, &sku, &size, &color, &modAmt, &modCur); err != nil {
			return ProductView{}, fmt.Errorf("read product: %w", err)
		}
		found = true
		p.CreatedAt, p.UpdatedAt = parseTime(created), parseTime(updated)
		if vid.Valid {
			p.Variants = append(p.Variants, ProductVariant{VariantID: vid.String, SKU: sku.String, Size: size.String, Color: color.String,
				PriceModifier: acme.Money{Amount: modAmt.Int64, Currency: modCur.String}})
		}
	}
	if err := rows.Err(); err != nil {
		return ProductView{}, fmt.Errorf("read product: %w", err)
	}
	if !found {
		return ProductView{}, notFound
	}
	return p, nil
}

// Category returns one category (not_found when there is none).
func (m *Module) Category(ctx context.Context, id string) (CategoryView, error) {
	if m.h == nil {
		return CategoryView{}, errNotStarted
	}
	var c CategoryView
	var parent string
	err := m.h.Store().DB().QueryRowContext(ctx, `SELECT category_id, name, parent_id, depth FROM catalog_categories
		WHERE category_id = $1`, acme.NormalizeID(id)).Scan(&c.CategoryID, &c.Name, &parent, &c.Depth)
	if errors.Is(err, sql.ErrNoRows) {
		return CategoryView{}, acme.Errorf(acme.CodeNotFound, "category not found")
	}
	if err != nil {
		return CategoryView{}, fmt.Errorf("read category: %w", err)
	}
	c.ParentID = nullable(parent)
	return c, nil
}

// Categories returns a page of categories ordered by depth then name, and the total.
func (m *Module) Categories(ctx context.Context, page, size int) ([]CategoryView, int, error) {
	if m.h == nil {
		return nil, 0, errNotStarted
	}
	db := m.h.Store().DB()
	var total int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_categories`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count categories: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT category_id, name, parent_id, depth FROM catalog_categories
		ORDER BY depth, name_key, category_id LIMIT $1 OFFSET $2`, size, (page-1)*size)
	if err != nil {
		return nil, 0, fmt.Errorf("read categories: %w", err)
	}
	defer rows.Close()
	out := []CategoryView{}
	for rows.Next() {
		var c CategoryView
		var parent string
		if err := rows.Scan(&c.CategoryID, &c.Name, &parent, &c.Depth); err != nil {
			return nil, 0, fmt.Errorf("read categories: %w", err)
		}
		c.ParentID = nullable(parent)
		out = append(out, c)
	}
	return out, total, rows.Err()
}
