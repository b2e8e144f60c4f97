// Package testenv finds the real services server-mode tests run against, with
// one rule everywhere: outside CI a service that does not answer skips the test
// with a message saying how to run it; with CI=true it fails the test.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Defaults for the local services (see docs/architecture.md).
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultNATSURL     = "nats://127.0.0.1:4222"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// CI reports whether the tests run under CI=true (a missing service fails).
func CI() bool { return os.Getenv("CI") == "true" }

// PostgresURL returns ACME_TEST_POSTGRES_URL (or the default) if PostgreSQL answers.
func PostgresURL(t testing.TB) string {
	return service(t, "PostgreSQL", "ACME_TEST_POSTGRES_URL", DefaultPostgresURL)
}

// NATSURL returns ACME_TEST_NATS_URL (or the default) if NATS answers.
func NATSURL(t testing.TB) string { return service(t, "NATS", "ACME_TEST_NATS_URL", DefaultNATSURL) }

// RedisURL returns ACME_TEST_REDIS_URL (or the default) if Redis answers.
func RedisURL(t testing.TB) string {
	return service(t, "Redis", "ACME_TEST_REDIS_URL", DefaultRedisURL)
}

// ServerMode reports whether server-mode suites should run: all three services
// answer (under CI they must). Outside CI with a service down it returns false
// after logging which one, so callers run only the embedded variant.
func ServerMode(t testing.TB) bool {
	t.Helper()
	for _, s := range []struct{ name, env, def string }{
		{"PostgreSQL", "ACME_TEST_POSTGRES_URL", DefaultPostgresURL},
		{"NATS", "ACME_TEST_NATS_URL", DefaultNATSURL},
		{"Redis", "ACME_TEST_REDIS_URL", DefaultRedisURL},
	} {
		u := envOr(s.env, s.def)
		if err := dial(u); err != nil {
			if CI() {
				t.Fatalf("%s at %s does not answer (%v): CI=true requires it", s.name, u, err)
			}
			t.Logf("server mode skipped: %s at %s does not answer (%v); start it or set %s", s.name, u, err, s.env)
			return false
		}
	}
	return true
}

func service(t testing.TB, name, env, def string) string {
	t.Helper()
	u := envOr(env, def)
	if err := dial(u); err != nil {
		if CI() {
			t.Fatalf("%s at %s does not answer (%v): CI=true requires it", name, u, err)
		}
		t.Skipf("skipping %s suite: %s at %s does not answer (%v); start it (see docs/architecture.md) or set %s", name, name, u, err, env)
	}
	return u
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// dial checks that the URL's host:port accepts TCP connections.
func dial(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		return fmt.Errorf("no port in %q", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	return c.Close()
}
