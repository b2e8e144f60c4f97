package reviews

import "acme/es"

// ProductRating is the state of a product's rating stream: which published
// reviews count, and their sum.
type ProductRating struct {
	ProductID string
	Counted   map[string]int // reviewId → rating of each published review counted
	Sum       int
	Version   int64 // number of RatingUpdated events
}

// ratingChange is a review entering (Publish) or leaving the published set.
type ratingChange struct {
	ProductID string
	ReviewID  string
	Rating    int
	Publish   bool
	At        string
}

var ratingDecider = es.Decider[ProductRating, ratingChange]{
	Decide: decideRating,
	Evolve: evolveRating,
}

// decideRating is idempotent: a review already counted (or already not counted)
// changes nothing, so redelivered events never skew the average.
func decideRating(p ProductRating, c ratingChange) ([]any, error) {
	_, counted := p.Counted[c.ReviewID]
	if counted == c.Publish {
		return nil, nil
	}
	sum, n := p.Sum, len(p.Counted)
	var change any
	if c.Publish {
		sum, n = sum+c.Rating, n+1
		change = reviewCountedV1{ProductID: c.ProductID, ReviewID: c.ReviewID, Rating: c.Rating}
	} else {
		sum, n = sum-p.Counted[c.ReviewID], n-1
		change = reviewUncountedV1{ProductID: c.ProductID, ReviewID: c.ReviewID}
	}
	return []any{change, RatingUpdatedV1{ProductID: c.ProductID, AverageRating: Average(sum, n), ReviewCount: n,
		Version: p.Version + 1, UpdatedAt: c.At}}, nil
}

func evolveRating(p ProductRating, event any) ProductRating {
	// RatingUpdated alone cannot say which review changed, so the rating stream
	// also records the change itself (RatingReviewCounted / RatingReviewUncounted).
	switch e := event.(type) {
	case RatingUpdatedV1:
		p.ProductID = e.ProductID
		p.Version = e.Version
	case reviewCountedV1:
		p.Counted = copyCounted(p.Counted)
		p.Counted[e.ReviewID] = e.Rating
		p.Sum += e.Rating
	case reviewUncountedV1:
		p.Counted = copyCounted(p.Counted)
		p.Sum -= p.Counted[e.ReviewID]
		delete(p.Counted, e.ReviewID)
	}
	return p
}

func copyCounted(m map[string]int) map[string]int {
	out := make(map[string]int, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Average is sum/n rounded half-up to two decimals (0 when n is 0).
func Average(sum, n int) float64 {
	if n <= 0 {
		return 0
	}
	hundredths := (int64(sum)*200 + int64(n)) / (2 * int64(n)) // round half up of sum*100/n
	return float64(hundredths) / 100
}
