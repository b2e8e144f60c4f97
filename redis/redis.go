// Package redis holds the adapters over Redis (github.com/redis/go-redis/v9):
// the reviews rating cache in server mode.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"acme/reviews"
)

// go-redis reports pool trouble through its own logger (unstructured lines on
// stderr); they go to slog like the rest of the program's logs.
func init() { goredis.SetLogger(slogLogger{}) }

type slogLogger struct{}

func (slogLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.WarnContext(ctx, fmt.Sprintf(format, v...)) // go-redis starts its lines with "redis:"
}

// Open connects to the Redis at url (redis://host:port/db) and checks it answers.
func Open(ctx context.Context, url string) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	c := goredis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis ping %s: %w", opts.Addr, err)
	}
	return c, nil
}

// RatingCache is reviews.RatingCache on Redis: one hash per product under
// "<prefix>rating:<productId>" with fields avg, count, version.
type RatingCache struct {
	c      *goredis.Client
	prefix string
}

// NewRatingCache returns the cache; prefix namespaces its keys (one per
// deployment, or per test run).
func NewRatingCache(c *goredis.Client, prefix string) *RatingCache {
	return &RatingCache{c: c, prefix: prefix}
}

func (r *RatingCache) key(productID string) string { return r.prefix + "rating:" + productID }

// putNewest writes the hash only when the stored version is older, atomically.
var putNewest = goredis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'version')
if v and tonumber(v) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'avg', ARGV[1], 'count', ARGV[2], 'version', ARGV[3])
return 1`)

// Get implements reviews.RatingCache.
func (r *RatingCache) Get(ctx context.Context, productID string) (reviews.Rating, bool, error) {
	vals, err := r.c.HMGet(ctx, r.key(productID), "avg", "count", "version").Result()
	if err != nil {
		return reviews.Rating{}, false, fmt.Errorf("redis rating get: %w", err)
	}
	if vals[0] == nil || vals[1] == nil || vals[2] == nil {
		return reviews.Rating{}, false, nil
	}
	avg, err1 := strconv.ParseFloat(vals[0].(string), 64)
	count, err2 := strconv.Atoi(vals[1].(string))
	version, err3 := strconv.ParseInt(vals[2].(string), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return reviews.Rating{}, false, nil // a corrupt entry is a miss: the read-through repairs it
	}
	return reviews.Rating{ProductID: productID, AverageRating: avg, ReviewCount: count, Version: version}, true, nil
}

// Put implements reviews.RatingCache.
func (r *RatingCache) Put(ctx context.Context, rt reviews.Rating) error {
	err := putNewest.Run(ctx, r.c, []string{r.key(rt.ProductID)},
		strconv.FormatFloat(rt.AverageRating, 'f', 2, 64), rt.ReviewCount, rt.Version).Err()
	if err != nil {
		return fmt.Errorf("redis rating put: %w", err)
	}
	return nil
}

// Clear implements reviews.RatingCache: it deletes this prefix's keys only.
func (r *RatingCache) Clear(ctx context.Context) error {
	iter := r.c.Scan(ctx, 0, r.prefix+"rating:*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := r.c.Del(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redis rating clear: %w", err)
	}
	if len(batch) > 0 {
		return r.c.Del(ctx, batch...).Err()
	}
	return nil
}
