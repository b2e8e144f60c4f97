package acmetest

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	goredis "github.com/redis/go-redis/v9"

	"acme/app"
)

// cleanupServer removes what a Server-mode run created on the shared services:
// the PostgreSQL schemas, NATS streams (and KV buckets) and Redis keys with
// the run's prefix. Best effort: a failure leaves data that no other run sees.
func cleanupServer(cfg app.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if cfg.PostgresURL != "" && cfg.SchemaPrefix != "" {
		if conn, err := pgx.Connect(ctx, cfg.PostgresURL); err == nil {
			rows, err := conn.Query(ctx, `SELECT schema_name FROM information_schema.schemata WHERE starts_with(schema_name, $1)`, cfg.SchemaPrefix)
			var names []string
			if err == nil {
				for rows.Next() {
					var n string
					if rows.Scan(&n) == nil {
						names = append(names, n)
					}
				}
				rows.Close()
			}
			for _, n := range names {
				_, _ = conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{n}.Sanitize()+` CASCADE`)
			}
			_ = conn.Close(ctx)
		}
	}
	if cfg.RedisURL != "" && cfg.SchemaPrefix != "" {
		// the rating cache namespaces its keys "acme:<schema prefix>..."
		if opts, err := goredis.ParseURL(cfg.RedisURL); err == nil {
			rc := goredis.NewClient(opts)
			it := rc.Scan(ctx, 0, "acme:"+cfg.SchemaPrefix+"*", 500).Iterator()
			var keys []string
			for it.Next(ctx) {
				keys = append(keys, it.Val())
			}
			if len(keys) > 0 {
				_ = rc.Del(ctx, keys...).Err()
			}
			_ = rc.Close()
		}
	}
	if cfg.NATSURL != "" && cfg.BusPrefix != "" {
		if nc, err := nats.Connect(cfg.NATSURL); err == nil {
			if js, err := jetstream.New(nc); err == nil {
				names := js.StreamNames(ctx)
				var del []string
				for n := range names.Name() {
					if strings.HasPrefix(n, cfg.BusPrefix) || strings.HasPrefix(n, "KV_"+cfg.BusPrefix) {
						del = append(del, n)
					}
				}
				for _, n := range del {
					_ = js.DeleteStream(ctx, n)
				}
			}
			nc.Close()
		}
	}
}
