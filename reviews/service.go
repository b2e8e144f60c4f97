package reviews

import (
	"context"
	"errors"

	"acme"
	"acme/es"
)

const timeFormat = "2006-01-02T15:04:05.000000Z"

// slotTakenV1 fills the reservation stream that makes one review per customer
// and product race-free.
type slotTakenV1 struct {
	ReviewID string `json:"reviewId"`
}

// ReviewSlotTaken is declared so the registry can encode it; nobody consumes it.
var ReviewSlotTaken = es.Define[slotTakenV1](spec("ReviewSlotTaken", es.KindEvent,
	"A customer's one review of a product is taken (uniqueness reservation).", []string{"reviews"}, nil))

// Submitted is the outcome of a submission.
type Submitted struct {
	ReviewID         string `json:"reviewId"`
	Status           string `json:"status"`
	VerifiedPurchase bool   `json:"verifiedPurchase"`
	position         int64
}

// Submit runs SubmitReview with the moderation worker's screening.
func (m *Module) Submit(ctx context.Context, customerID, productID string, rating int, title, body string) (Submitted, error) {
	exists, active, err := m.product(ctx, productID)
	if err != nil {
		return Submitted{}, err
	}
	if !exists || !active {
		// a product created just before: look again once the read model has
		// caught up with what catalog has committed
		again, err := m.catchUp(ctx, "catalog", owner+"."+consumerProducts)
		if err != nil {
			return Submitted{}, err
		}
		if again {
			if exists, active, err = m.product(ctx, productID); err != nil {
				return Submitted{}, err
			}
		}
	}
	if !exists || !active {
		return Submitted{}, acme.Errorf(acme.CodeNotFound, "product not found")
	}
	purchased := func() (bool, error) {
		return m.exists(ctx, `SELECT 1 FROM reviews_purchases WHERE customer_id = $1 AND product_id = $2`, customerID, productID)
	}
	verified, err := purchased()
	if err == nil && !verified {
		// an order delivered just before counts
		var again bool
		if again, err = m.catchUp(ctx, "ordering", owner+"."+consumerDeliveries); again {
			verified, err = purchased()
		}
	}
	if err != nil {
		return Submitted{}, err
	}
	id := m.host.NewID()
	cmd := submitReview{
		SubmitReviewV1: SubmitReviewV1{ReviewID: id, ProductID: productID, CustomerID: customerID, Rating: rating, Title: title, Body: body},
		Verified:       verified, Verdict: m.policy.Screen(title, body), At: m.clock.Now().Format(timeFormat),
	}
	app, st, err := m.reviews.Decide(ctx, "review-"+id, cmd)
	if err != nil {
		return Submitted{}, err
	}
	slot := es.Append{StreamID: "reviewer-" + productID + "-" + customerID, StreamType: "reviewer", Expected: es.NoStream,
		Events: []es.Event{ReviewSlotTaken.New(m.host.NewID(), slotTakenV1{ReviewID: id}, es.MetadataFrom(ctx))}}
	res, err := m.store.Commit(ctx, es.Commit{Appends: []es.Append{slot, app}, Apply: projectReviews})
	if errors.Is(err, es.ErrConcurrency) {
		return Submitted{}, acme.Errorf("already_reviewed", "you have already reviewed this product")
	}
	if err != nil {
		return Submitted{}, err
	}
	return Submitted{ReviewID: id, Status: st.Status, VerifiedPurchase: verified, position: res.Position}, nil
}

// catchUp lets the read models reads (of source's events) catch up with what
// source has committed (httpapi.API.CatchUp: whether to look again, or 503
// stale_read_model); false without an HTTP API, as in tests of the module alone.
func (m *Module) catchUp(ctx context.Context, source string, reads ...string) (bool, error) {
	if m.api == nil {
		return false, nil
	}
	return m.api.CatchUp(ctx, source, reads...)
}

// act runs a command on an existing review and returns the review as stored.
func (m *Module) act(ctx context.Context, reviewID string, cmd any) (ReviewView, int64, error) {
	if !acme.ValidID(reviewID) {
		return ReviewView{}, 0, notFound()
	}
	h, err := m.reviews.Handle(ctx, "review-"+reviewID, cmd)
	if err != nil {
		return ReviewView{}, 0, err
	}
	v, ok, err := m.review(ctx, reviewID)
	if err == nil && !ok {
		err = notFound()
	}
	return v, h.Position, err
}
