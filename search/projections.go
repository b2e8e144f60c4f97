package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"acme"
	"acme/es"
)

// TimeFormat is the fixed-width RFC 3339 UTC format of stored times (they sort as text).
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Local views of other contexts' events (tolerant readers).
type categoryCreated struct {
	CategoryID string `json:"categoryId"`
	ParentID   string `json:"parentId"`
}

type productCreated struct {
	ProductID   string     `json:"productId"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Price       acme.Money `json:"price"`
	CategoryID  string     `json:"categoryId"`
	CreatedAt   string     `json:"createdAt"`
}

type productUpdated struct {
	ProductID   string     `json:"productId"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Price       acme.Money `json:"price"`
	CategoryID  string     `json:"categoryId"`
}

type productDeactivated struct {
	ProductID string `json:"productId"`
}

type stockEvent struct {
	Levels []struct {
		ProductID string `json:"productId"`
		VariantID string `json:"variantId"`
		Available int64  `json:"available"`
	} `json:"levels"`
}

type ratingUpdated struct {
	ProductID     string  `json:"productId"`
	AverageRating float64 `json:"averageRating"`
	ReviewCount   int64   `json:"reviewCount"`
}

// consumed lists the messages the search feed consumer applies.
var consumed = []string{
	"CategoryCreated", "ProductCreated", "ProductUpdated", "ProductVariantAdded", "ProductDeactivated",
	"InventoryRestocked", "InventoryReserved", "InventoryReleased", "InventoryDeducted",
	"RatingUpdated",
}

// Apply returns the commit of one message: the search source tables change in
// the consumer's transaction (with its inbox record). Products whose indexed
// fields change get a new seq; the indexer brings the Bleve index up to it.
func Apply(m es.Message) (es.Commit, error) {
	var apply func(ctx context.Context, tx es.SQL) error
	bad := func(err error) (es.Commit, error) {
		return es.Commit{}, es.Permanent(fmt.Errorf("search: bad %s %s: %w", m.Type, m.ID, err))
	}
	switch m.Type {
	case "CategoryCreated":
		var c categoryCreated
		if err := json.Unmarshal(m.Data, &c); err != nil || c.CategoryID == "" {
			return bad(errors.Join(err, errors.New("no categoryId")))
		}
		apply = func(ctx context.Context, tx es.SQL) error { return applyCategory(ctx, tx, c) }
	case "ProductCreated":
		var p productCreated
		if err := json.Unmarshal(m.Data, &p); err != nil || p.ProductID == "" {
			return bad(errors.Join(err, errors.New("no productId")))
		}
		if p.CreatedAt == "" {
			p.CreatedAt = m.Time.UTC().Format(TimeFormat)
		} else if t, err := time.Parse(time.RFC3339Nano, p.CreatedAt); err == nil {
			p.CreatedAt = t.UTC().Format(TimeFormat)
		}
		apply = func(ctx context.Context, tx es.SQL) error { return applyCreated(ctx, tx, p) }
	case "ProductUpdated":
		var p productUpdated
		if err := json.Unmarshal(m.Data, &p); err != nil || p.ProductID == "" {
			return bad(errors.Join(err, errors.New("no productId")))
		}
		apply = func(ctx context.Context, tx es.SQL) error {
			seq, err := nextSeq(ctx, tx)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE search_products SET name = $1, description = $2, price_amount = $3,
				price_currency = $4, category_id = $5, seq = $6 WHERE product_id = $7`,
				p.Name, p.Description, p.Price.Amount, p.Price.Currency, p.CategoryID, seq, p.ProductID)
			return err
		}
	case "ProductDeactivated":
		var p productDeactivated
		if err := json.Unmarshal(m.Data, &p); err != nil || p.ProductID == "" {
			return bad(errors.Join(err, errors.New("no productId")))
		}
		apply = func(ctx context.Context, tx es.SQL) error {
			seq, err := nextSeq(ctx, tx)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE search_products SET active = $1, seq = $2 WHERE product_id = $3 AND active = $4`, false, seq, p.ProductID, true)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE search_meta SET active = active - 1 WHERE id = 1`)
			return err
		}
	case "ProductVariantAdded":
		var v struct {
			ProductID string `json:"productId"`
			VariantID string `json:"variantId"`
		}
		if err := json.Unmarshal(m.Data, &v); err != nil || v.ProductID == "" || v.VariantID == "" {
			return bad(errors.Join(err, errors.New("no productId or variantId")))
		}
		// The variant's stock item, at 0 until inventory's levels say more
		// (position 0: any level is newer). A product with variants is in
		// stock by its variants only (see summaries).
		apply = func(ctx context.Context, tx es.SQL) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO search_stock (product_id, variant_id, available, position) VALUES ($1, $2, 0, 0)
				ON CONFLICT (product_id, variant_id) DO NOTHING`, v.ProductID, v.VariantID)
			return err
		}
	case "InventoryRestocked", "InventoryReserved", "InventoryReleased", "InventoryDeducted":
		var s stockEvent
		if err := json.Unmarshal(m.Data, &s); err != nil {
			return bad(err)
		}
		apply = func(ctx context.Context, tx es.SQL) error {
			for _, l := range s.Levels {
				if err := upsertStock(ctx, tx, l.ProductID, l.VariantID, l.Available, m.Position); err != nil {
					return err
				}
			}
			return nil
		}
	case "RatingUpdated":
		var r ratingUpdated
		if err := json.Unmarshal(m.Data, &r); err != nil || r.ProductID == "" {
			return bad(errors.Join(err, errors.New("no productId")))
		}
		x100 := int64(math.Round(r.AverageRating * 100))
		apply = func(ctx context.Context, tx es.SQL) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO search_ratings (product_id, rating_x100, review_count) VALUES ($1, $2, $3)
				ON CONFLICT (product_id) DO UPDATE SET rating_x100 = excluded.rating_x100, review_count = excluded.review_count`,
				r.ProductID, x100, r.ReviewCount); err != nil {
				return err
			}
			seq, err := nextSeq(ctx, tx)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE search_products SET rating_x100 = $1, review_count = $2, seq = $3 WHERE product_id = $4`,
				x100, r.ReviewCount, seq, r.ProductID)
			return err
		}
	default:
		return es.Commit{}, nil
	}
	return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		if err := apply(ctx, tx); err != nil {
			return fmt.Errorf("search: apply %s: %w", m.Type, err)
		}
		return nil
	}}, nil
}

// ApplyBatch is Apply for several messages (the products consumer's batch):
// one commit running each message's writes in order. A message Apply refuses
// fails the batch (the platform then applies the messages one at a time).
func ApplyBatch(ms []es.Message) (es.Commit, error) {
	cs := make([]es.Commit, len(ms))
	for i, m := range ms {
		c, err := Apply(m)
		if err != nil {
			return es.Commit{}, err
		}
		cs[i] = c
	}
	return es.Join(cs...), nil
}

// nextSeq takes the next change number. The single meta row serialises the
// writers that take one, so seqs become visible in order: an indexer that
// has seen seq n has seen every change up to n.
func nextSeq(ctx context.Context, tx es.SQL) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `UPDATE search_meta SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq)
	return seq, err
}

func applyCategory(ctx context.Context, tx es.SQL, c categoryCreated) error {
	path := c.CategoryID
	if c.ParentID != "" {
		var parent string
		err := tx.QueryRowContext(ctx, `SELECT path FROM search_categories WHERE category_id = $1`, c.ParentID).Scan(&parent)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			parent = c.ParentID // parent unknown (should not happen: catalog publishes in order)
		case err != nil:
			return err
		}
		path = parent + " " + c.CategoryID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO search_categories (category_id, parent_id, path) VALUES ($1, $2, $3)
		ON CONFLICT (category_id) DO UPDATE SET parent_id = excluded.parent_id, path = excluded.path`, c.CategoryID, c.ParentID, path); err != nil {
		return err
	}
	// Products already filed under it (only on an out-of-order delivery) are re-indexed.
	seq, err := nextSeq(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE search_products SET seq = $1 WHERE category_id = $2`, seq, c.CategoryID)
	return err
}

func applyCreated(ctx context.Context, tx es.SQL, p productCreated) error {
	// Two statements on the usual path: take a seq (counting the product as
	// new and active), insert it with any rating that arrived first.
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE search_meta SET seq = seq + 1, active = active + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO search_products (product_id, name, description, price_amount, price_currency,
		category_id, created_at, active, rating_x100, review_count, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
		COALESCE((SELECT rating_x100 FROM search_ratings WHERE product_id = $1), 0),
		COALESCE((SELECT review_count FROM search_ratings WHERE product_id = $1), 0), $9)
		ON CONFLICT (product_id) DO NOTHING`,
		p.ProductID, p.Name, p.Description, p.Price.Amount, p.Price.Currency, p.CategoryID, p.CreatedAt, true, seq)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// Known already (a replay): not a new product after all; refresh its fields.
	if _, err := tx.ExecContext(ctx, `UPDATE search_meta SET active = active - 1 WHERE id = 1`); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE search_products SET name = $1, description = $2, price_amount = $3, price_currency = $4,
		category_id = $5, created_at = $6, seq = $7 WHERE product_id = $8`,
		p.Name, p.Description, p.Price.Amount, p.Price.Currency, p.CategoryID, p.CreatedAt, seq, p.ProductID)
	return err
}

// upsertStock keeps the newest level of a stock item: a level older (by
// inventory's log position) than the one stored is ignored, so a late
// redelivery cannot bring back a stale availability.
func upsertStock(ctx context.Context, tx es.SQL, productID, variantID string, available, position int64) error {
	if productID == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO search_stock (product_id, variant_id, available, position) VALUES ($1, $2, $3, $4)
		ON CONFLICT (product_id, variant_id) DO UPDATE SET available = excluded.available, position = excluded.position
		WHERE search_stock.position <= excluded.position`, productID, variantID, available, position)
	return err
}

// categoryPaths returns the ancestor path (root first, itself last) of categories.
func categoryPath(ctx context.Context, db es.SQL, categoryID string) ([]string, error) {
	var path string
	err := db.QueryRowContext(ctx, `SELECT path FROM search_categories WHERE category_id = $1`, categoryID).Scan(&path)
	if errors.Is(err, sql.ErrNoRows) {
		return []string{categoryID}, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Fields(path), nil
}
