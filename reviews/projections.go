package reviews

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"acme/es"
)

// projectReviews keeps reviews_reviews in step with review streams, in the
// same transaction as the append (read-your-writes for the review API).
func projectReviews(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, e := range events {
		var err error
		switch e.Type {
		case ReviewSubmitted.Name():
			var v ReviewSubmittedV1
			if v, err = ReviewSubmitted.Decode(e); err == nil {
				_, err = tx.ExecContext(ctx, `INSERT INTO reviews_reviews
					(review_id, product_id, customer_id, rating, title, body, status, verified, created_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (review_id) DO NOTHING`,
					v.ReviewID, v.ProductID, v.CustomerID, v.Rating, v.Title, v.Body, StatusPending, v.VerifiedPurchase, v.SubmittedAt)
			}
		case ReviewPublished.Name():
			var v ReviewPublishedV1
			if v, err = ReviewPublished.Decode(e); err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE reviews_reviews SET status = $1, published_at = $2, flag_count = 0 WHERE review_id = $3`,
					StatusPublished, v.PublishedAt, v.ReviewID)
			}
			if err == nil {
				err = countPublished(ctx, tx, v.ProductID, 1)
			}
		case ReviewRejected.Name():
			var v ReviewRejectedV1
			if v, err = ReviewRejected.Decode(e); err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE reviews_reviews SET status = $1 WHERE review_id = $2`, StatusRejected, v.ReviewID)
			}
		case ReviewFlagged.Name():
			var v ReviewFlaggedV1
			if v, err = ReviewFlagged.Decode(e); err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE reviews_reviews SET flag_count = $1 WHERE review_id = $2`, v.FlagCount, v.ReviewID)
			}
		case ReviewReturnedToModeration.Name():
			var v ReviewReturnedToModerationV1
			if v, err = ReviewReturnedToModeration.Decode(e); err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE reviews_reviews SET status = $1 WHERE review_id = $2`, StatusPending, v.ReviewID)
			}
			if err == nil {
				err = countPublished(ctx, tx, v.ProductID, -1)
			}
		case ReviewHelpfulVoted.Name():
			var v ReviewHelpfulVotedV1
			if v, err = ReviewHelpfulVoted.Decode(e); err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE reviews_reviews SET helpful_count = $1 WHERE review_id = $2`, v.HelpfulCount, v.ReviewID)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// countPublished moves a product's published-review count by delta. Each
// review enters and leaves the published set only through these events, so
// the count equals the published rows of reviews_reviews.
func countPublished(ctx context.Context, tx es.SQL, productID string, delta int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO reviews_product_counts (product_id, published) VALUES ($1, $2)
		ON CONFLICT (product_id) DO UPDATE SET published = reviews_product_counts.published + excluded.published`, productID, delta)
	return err
}

// catalogProduct is this context's view of the catalog's product events.
type catalogProduct struct {
	ProductID string `json:"productId"`
}

func (m *Module) onProduct(ctx context.Context, msg es.Message) (es.Commit, error) {
	var p catalogProduct
	if err := es.DecodeData(msg, &p); err != nil {
		return es.Commit{}, err
	}
	active := msg.Type == "ProductCreated"
	return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO reviews_products (product_id, active) VALUES ($1, $2)
			ON CONFLICT (product_id) DO UPDATE SET active = excluded.active`, p.ProductID, active)
		return err
	}}, nil
}

// orderDelivered is this context's view of ordering's OrderDelivered.
type orderDelivered struct {
	OrderID    string   `json:"orderId"`
	CustomerID string   `json:"customerId"`
	ProductIDs []string `json:"productIds"`
}

func (m *Module) onOrderDelivered(ctx context.Context, msg es.Message) (es.Commit, error) {
	var o orderDelivered
	if err := es.DecodeData(msg, &o); err != nil {
		return es.Commit{}, err
	}
	return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		for _, p := range o.ProductIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO reviews_purchases (customer_id, product_id) VALUES ($1, $2)
				ON CONFLICT (customer_id, product_id) DO NOTHING`, o.CustomerID, p); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// aggregateRatings is the rating aggregator: each review entering or leaving
// the published set updates its product's rating stream (once: the inbox). A
// batch loads each product's stream once and appends one RatingUpdated per
// change, in order.
func (m *Module) aggregateRatings(ctx context.Context, msgs []es.Message) (es.Commit, error) {
	at := m.clock.Now().Format(timeFormat)
	changes := map[string][]ratingChange{}
	mds := map[string][]es.Metadata{}
	var products []string // in order of first change
	for _, msg := range msgs {
		c, ok, err := ratingChangeOf(msg, at)
		if err != nil {
			return es.Commit{}, err
		}
		if !ok {
			continue
		}
		if _, seen := changes[c.ProductID]; !seen {
			products = append(products, c.ProductID)
		}
		changes[c.ProductID] = append(changes[c.ProductID], c)
		mds[c.ProductID] = append(mds[c.ProductID], es.HandlerMetadata(msg))
	}
	var cm es.Commit
	for _, p := range products {
		app, _, err := m.ratings.DecideAll(ctx, "rating-"+p, changes[p], mds[p])
		if err != nil {
			return es.Commit{}, err
		}
		if len(app.Events) > 0 {
			cm.Appends = append(cm.Appends, app)
		}
	}
	return cm, nil
}

// ratingChangeOf is the change msg makes to its product's rating (false for
// other types).
func ratingChangeOf(msg es.Message, at string) (ratingChange, bool, error) {
	switch msg.Type {
	case ReviewPublished.Name():
		v, err := ReviewPublished.DecodeMessage(msg)
		if err != nil {
			return ratingChange{}, false, es.Permanent(err)
		}
		return ratingChange{ProductID: v.ProductID, Rating: v.Rating, Publish: true, At: at}, true, nil
	case ReviewReturnedToModeration.Name():
		v, err := ReviewReturnedToModeration.DecodeMessage(msg)
		if err != nil {
			return ratingChange{}, false, es.Permanent(err)
		}
		return ratingChange{ProductID: v.ProductID, Rating: v.Rating, Publish: false, At: at}, true, nil
	}
	return ratingChange{}, false, nil
}

// projectRatings is the rating cache projection: RatingUpdated events into
// reviews_ratings (the durable copy the cache is warmed and read through from)
// and into the cache.
func (m *Module) projectRatings(ctx context.Context, tx es.SQL, events []es.Event) error {
	var puts []Rating
	for _, e := range events {
		if e.Type != RatingUpdated.Name() {
			continue
		}
		v, err := RatingUpdated.Decode(e)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reviews_ratings (product_id, average, review_count, version)
			VALUES ($1, $2, $3, $4) ON CONFLICT (product_id) DO UPDATE
			SET average = excluded.average, review_count = excluded.review_count, version = excluded.version
			WHERE reviews_ratings.version < excluded.version`,
			v.ProductID, strconv.FormatFloat(v.AverageRating, 'f', 2, 64), v.ReviewCount, v.Version); err != nil {
			return err
		}
		puts = append(puts, Rating{ProductID: v.ProductID, AverageRating: v.AverageRating, ReviewCount: v.ReviewCount, Version: v.Version})
	}
	// The cache is not transactional; Put keeps the newest version, so writing
	// before the checkpoint commits is harmless if the transaction is retried.
	for _, r := range puts {
		if err := m.cache.Put(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (m *Module) resetRatings(ctx context.Context, tx es.SQL) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM reviews_ratings`); err != nil {
		return err
	}
	return m.cache.Clear(ctx)
}

type scanner interface{ Scan(dest ...any) error }

func scanRating(s scanner) (Rating, error) {
	var r Rating
	var avg string
	if err := s.Scan(&r.ProductID, &avg, &r.ReviewCount, &r.Version); err != nil {
		return Rating{}, err
	}
	r.AverageRating, _ = strconv.ParseFloat(avg, 64)
	return r, nil
}

// rating serves a product's aggregate from the cache, reading through to the
// ratings read model on a miss (so a flushed cache gives the same answers).
func (m *Module) rating(ctx context.Context, productID string) (Rating, error) {
	if r, ok, err := m.cache.Get(ctx, productID); err == nil && ok {
		return r, nil
	}
	r, err := scanRating(m.store.DB().QueryRowContext(ctx,
		`SELECT product_id, average, review_count, version FROM reviews_ratings WHERE product_id = $1`, productID))
	if errors.Is(err, sql.ErrNoRows) {
		return Rating{ProductID: productID}, nil
	}
	if err != nil {
		return Rating{}, err
	}
	_ = m.cache.Put(ctx, r)
	return r, nil
}

// ReviewView is a review as the API shows it.
type ReviewView struct {
	ReviewID         string `json:"reviewId"`
	ProductID        string `json:"productId"`
	CustomerID       string `json:"customerId"`
	Rating           int    `json:"rating"`
	Title            string `json:"title"`
	Body             string `json:"body"`
	Status           string `json:"status"`
	VerifiedPurchase bool   `json:"verifiedPurchase"`
	HelpfulCount     int    `json:"helpfulCount"`
	FlagCount        int    `json:"flagCount"`
	CreatedAt        string `json:"createdAt"`
	PublishedAt      string `json:"publishedAt,omitempty"`
}

const reviewColumns = `review_id, product_id, customer_id, rating, title, body, status, verified, helpful_count, flag_count, created_at, published_at`

func scanReview(s scanner) (ReviewView, error) {
	var v ReviewView
	err := s.Scan(&v.ReviewID, &v.ProductID, &v.CustomerID, &v.Rating, &v.Title, &v.Body, &v.Status,
		&v.VerifiedPurchase, &v.HelpfulCount, &v.FlagCount, &v.CreatedAt, &v.PublishedAt)
	return v, err
}

func (m *Module) review(ctx context.Context, id string) (ReviewView, bool, error) {
	v, err := scanReview(m.store.DB().QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM reviews_reviews WHERE review_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ReviewView{}, false, nil
	}
	return v, err == nil, err
}

func (m *Module) listReviews(ctx context.Context, where string, args []any, page, size int) ([]ReviewView, int, error) {
	var total int
	if err := m.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM reviews_reviews WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	items, err := m.pageReviews(ctx, where, args, page, size)
	return items, total, err
}

// pageReviews returns one page of the reviews matching where, newest first.
func (m *Module) pageReviews(ctx context.Context, where string, args []any, page, size int) ([]ReviewView, error) {
	n := len(args)
	rows, err := m.store.DB().QueryContext(ctx, `SELECT `+reviewColumns+` FROM reviews_reviews WHERE `+where+
		` ORDER BY created_at DESC, review_id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, size, (page-1)*size)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []ReviewView{}
	for rows.Next() {
		v, err := scanReview(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, rows.Err()
}

// publishedCount is a product's number of published reviews.
func (m *Module) publishedCount(ctx context.Context, productID string) (int, error) {
	var n int
	err := m.store.DB().QueryRowContext(ctx, `SELECT published FROM reviews_product_counts WHERE product_id = $1`, productID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// product reports whether the catalog announced productID, and whether it is active.
func (m *Module) product(ctx context.Context, productID string) (exists, active bool, err error) {
	err = m.store.DB().QueryRowContext(ctx, `SELECT active FROM reviews_products WHERE product_id = $1`, productID).Scan(&active)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	return err == nil, active, err
}

func (m *Module) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := m.store.DB().QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
