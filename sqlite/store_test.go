package sqlite_test

import (
	"path/filepath"
	"testing"

	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

func open(tb testing.TB, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "store.db"), opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	estest.RunStore(t, func(t *testing.T) es.Store { return open(t) })
}

// TestNeverSkip is the never-skip test alone: go test -race -count=5 -run NeverSkip ./sqlite/
func TestNeverSkip(t *testing.T) {
	estest.RunNeverSkip(t, func(t *testing.T) es.Store { return open(t) })
}

func BenchmarkStore(b *testing.B) {
	estest.RunBenchmarks(b, func(b *testing.B) es.Store { return open(b) })
}
