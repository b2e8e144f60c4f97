package reviews

import "acme/es"

// ProductRating is the state of a product's rating stream "rating-<productId>".
// It needs no list of reviews: every entry to and exit from the published set
// is its own fact (ReviewPublished, ReviewReturnedToModeration), and the
// consumer's inbox applies each fact exactly once.
type ProductRating struct {
	Sum     int   `json:"sum"`
	Count   int   `json:"count"`
	Version int64 `json:"version"` // number of RatingUpdated events
}

// ratingChange is a review entering (Publish) or leaving the published set.
type ratingChange struct {
	ProductID string
	Rating    int
	Publish   bool
	At        string
}

var ratingDecider = es.Decider[ProductRating, ratingChange]{
	Decide: decideRating,
	Evolve: evolveRating,
}

func decideRating(p ProductRating, c ratingChange) ([]any, error) {
	sum, n := p.Sum+c.Rating, p.Count+1
	if !c.Publish {
		sum, n = p.Sum-c.Rating, p.Count-1
	}
	if n < 0 || sum < 0 { // cannot happen with exactly-once facts; never emit nonsense
		return nil, nil
	}
	return []any{RatingUpdatedV1{ProductID: c.ProductID, AverageRating: Average(sum, n), ReviewCount: n,
		RatingSum: sum, Version: p.Version + 1, UpdatedAt: c.At}}, nil
}

func evolveRating(p ProductRating, event any) ProductRating {
	if e, ok := event.(RatingUpdatedV1); ok {
		p = ProductRating{Sum: e.RatingSum, Count: e.ReviewCount, Version: e.Version}
	}
	return p
}

// Average is sum/n rounded half-up to two decimals (0 when n is 0).
func Average(sum, n int) float64 {
	if n <= 0 {
		return 0
	}
	hundredths := (int64(sum)*200 + int64(n)) / (2 * int64(n)) // round half up of sum*100/n
	return float64(hundredths) / 100
}
