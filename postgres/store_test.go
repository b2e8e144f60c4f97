package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jackc/pgx/v5"

	"acme/es"
	"acme/es/estest"
	"acme/postgres"
	"acme/testenv"
)

// freshSchema returns the test database URL and a new schema name that is
// dropped when the test ends.
func freshSchema(tb testing.TB) (url, schema string) {
	tb.Helper()
	url = testenv.PostgresURL(tb)
	b := make([]byte, 6)
	rand.Read(b)
	schema = "estest_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return url, schema
}

func openSchema(tb testing.TB, url, schema string, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), url, schema, opts...)
	if err != nil {
		tb.Fatalf("Open(%s): %v", schema, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func open(tb testing.TB, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	url, schema := freshSchema(tb)
	return openSchema(tb, url, schema, opts...)
}

func TestStore(t *testing.T) {
	estest.RunStore(t, func(t *testing.T) es.Store { return open(t) })
}

func BenchmarkStore(b *testing.B) {
	estest.RunBenchmarks(b, func(b *testing.B) es.Store { return open(b) })
}
