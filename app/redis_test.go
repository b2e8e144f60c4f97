package app

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A Redis that does not answer stops the start, as PostgreSQL and NATS do:
// the rating cache would otherwise fail at every write while /readyz said 200.
func TestRunRefusesAnUnreachableRedis(t *testing.T) {
	a, err := New(Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", RedisURL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "redis") {
		t.Fatalf("Run = %v, want a Redis error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run waited for the deadline instead of failing at once")
	}
}
