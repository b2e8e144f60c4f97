package estest

import "testing"

import "acme/es"

// RunBenchmarks runs the es.Store benchmarks against stores made by open.
func RunBenchmarks(b *testing.B, open func(b *testing.B) es.Store) {}
