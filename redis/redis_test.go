package redis_test

import (
	"context"
	"testing"

	"acme"
	"acme/redis"
	"acme/reviews"
	"acme/reviews/cachetest"
	"acme/testenv"
)

func TestRatingCache(t *testing.T) {
	url := testenv.RedisURL(t)
	c, err := redis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cachetest.Run(t, func(t *testing.T) reviews.RatingCache {
		cache := redis.NewRatingCache(c, "acmetest:"+acme.NewID()+":")
		t.Cleanup(func() { _ = cache.Clear(context.Background()) })
		return cache
	})
}
