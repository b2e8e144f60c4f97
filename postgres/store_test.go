package postgres_test

import (
	"testing"

	"acme/es"
	"acme/es/estest"
	"acme/postgres"
	"acme/testenv"
)

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
	url, schema := testenv.PostgresSchema(tb, "estest_")
	return openSchema(tb, url, schema, opts...)
}

func TestStore(t *testing.T) {
	estest.RunStore(t, func(t *testing.T) es.Store { return open(t) })
}

func BenchmarkStore(b *testing.B) {
	estest.RunBenchmarks(b, func(b *testing.B) es.Store { return open(b) })
}
