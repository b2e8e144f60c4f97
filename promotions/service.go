package promotions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"acme"
	"acme/es"
)

const timeFormat = "2006-01-02T15:04:05.000000Z"

// PromotionView is a promotion as the API shows it: value is a number of
// percent (percentage) or Money (fixed).
type PromotionView struct {
	PromotionID string      `json:"promotionId"`
	Code        string      `json:"code"`
	Kind        string      `json:"kind"`
	Value       any         `json:"value"`
	MinSubtotal *acme.Money `json:"minSubtotal,omitempty"`
	ProductIDs  []string    `json:"productIds"`
	CategoryIDs []string    `json:"categoryIds"`
	StartsAt    *time.Time  `json:"startsAt,omitempty"`
	EndsAt      *time.Time  `json:"endsAt,omitempty"`
	CreatedAt   time.Time   `json:"createdAt"`
}

func viewOf(e PromotionCreatedV1) PromotionView {
	v := PromotionView{PromotionID: e.PromotionID, Code: e.Code, Kind: e.Kind, MinSubtotal: e.MinSubtotal,
		ProductIDs: orEmpty(e.ProductIDs), CategoryIDs: orEmpty(e.CategoryIDs), StartsAt: e.StartsAt, EndsAt: e.EndsAt, CreatedAt: e.CreatedAt}
	if e.Percent != nil {
		v.Value = *e.Percent
	} else if e.Amount != nil {
		v.Value = *e.Amount
	}
	return v
}

// StreamID is the stream of a promotion code.
func StreamID(code string) string { return "promotion-" + CodeKey(code) }

// Create validates and creates a promotion.
func (m *Module) Create(ctx context.Context, req CreatePromotionV1, value json.RawMessage) (PromotionView, int64, error) {
	r, err := Validate(req, value)
	if err != nil {
		return PromotionView{}, 0, err
	}
	h, err := m.codes.Handle(ctx, StreamID(r.Code), createPromotion{PromotionID: m.h.NewID(), Rule: r,
		At: m.clock.Now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		return PromotionView{}, 0, err
	}
	e, err := PromotionCreated.Decode(h.Events[0])
	if err != nil {
		return PromotionView{}, 0, err
	}
	return viewOf(e), h.Position, nil
}

// inline keeps promotions_promotions in the append's transaction.
func (m *Module) inline(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, ev := range events {
		if ev.Type != PromotionCreated.Name() {
			continue
		}
		e, err := PromotionCreated.Decode(ev)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO promotions_promotions (promotion_id, code_key, data, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (promotion_id) DO NOTHING`,
			e.PromotionID, CodeKey(e.Code), string(ev.Data), e.CreatedAt.UTC().Format(timeFormat)); err != nil {
			return err
		}
	}
	return nil
}

// Get returns one promotion by id (not_found when there is none).
func (m *Module) Get(ctx context.Context, id string) (PromotionView, error) {
	var data string
	err := m.h.Store().DB().QueryRowContext(ctx, `SELECT data FROM promotions_promotions WHERE promotion_id = $1`,
		acme.NormalizeID(id)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return PromotionView{}, acme.Errorf(acme.CodeNotFound, "promotion not found")
	}
	if err != nil {
		return PromotionView{}, err
	}
	var e PromotionCreatedV1
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return PromotionView{}, err
	}
	return viewOf(e), nil
}

// List returns a page of promotions, oldest first.
func (m *Module) List(ctx context.Context, page, size int) ([]PromotionView, int, error) {
	db := m.h.Store().DB()
	var total int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM promotions_promotions`).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.QueryContext(ctx, `SELECT data FROM promotions_promotions ORDER BY created_at, promotion_id LIMIT $1 OFFSET $2`,
		size, (page-1)*size)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []PromotionView{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, 0, err
		}
		var e PromotionCreatedV1
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return nil, 0, err
		}
		out = append(out, viewOf(e))
	}
	return out, total, rows.Err()
}
