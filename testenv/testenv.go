// Package testenv finds the real services server-mode tests run against, with
// one rule everywhere: outside CI a service that does not answer skips the test
// with a message saying how to run it; with CI=true it fails the test.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// PostgresSchema returns the PostgreSQL URL (as PostgresURL does) and a new
// schema name starting with prefix, dropped with everything in it when the
// test ends. Open the store on it afterwards, so that the store, closed by
// its own cleanup, is closed before the schema goes.
func PostgresSchema(tb testing.TB, prefix string) (url, schema string) {
	tb.Helper()
	url = PostgresURL(tb)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = prefix + hex.EncodeToString(b)
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

// NATSURL returns ACME_TEST_NATS_URL (or the default) if a NATS server of at
// least MinNATSVersion answers (older servers lack consumers filtered on
// several subjects; Debian's 2.9 is such a one: .ci/run starts 2.15.2).
func NATSURL(t testing.TB) string { return service(t, "NATS", "ACME_TEST_NATS_URL", DefaultNATSURL) }

// MinNATSVersion is the oldest NATS server the bus works with.
const MinNATSVersion = "2.10.0"

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
		if err := check(s.name, u); err != nil {
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
	if err := check(name, u); err != nil {
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

// check dials the service; for NATS it also checks the server's version.
func check(name, raw string) error {
	if name != "NATS" {
		return dial(raw)
	}
	return natsVersion(raw)
}

// natsVersion reads the INFO line a NATS server sends on connect and fails when
// the server is older than MinNATSVersion.
func natsVersion(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no INFO from the server: %w", err)
	}
	var info struct {
		Version   string `json:"version"`
		JetStream bool   `json:"jetstream"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "INFO ")), &info); err != nil {
		return fmt.Errorf("unreadable INFO from the server: %w", err)
	}
	if !info.JetStream {
		return fmt.Errorf("NATS %s runs without JetStream (start it with -js)", info.Version)
	}
	if versionLess(info.Version, MinNATSVersion) {
		return fmt.Errorf("NATS %s is older than %s (go install github.com/nats-io/nats-server/v2@v2.15.2, as .ci/run does)", info.Version, MinNATSVersion)
	}
	return nil
}

// versionLess compares dotted versions numerically ("2.9.10" < "2.10.0").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(strings.TrimLeft(pa[i], "v"))
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
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
