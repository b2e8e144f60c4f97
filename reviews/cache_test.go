package reviews_test

import (
	"testing"

	"acme/reviews"
	"acme/reviews/cachetest"
)

func TestMemoryRatingCache(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) reviews.RatingCache { return reviews.NewMemoryRatingCache() })
}
