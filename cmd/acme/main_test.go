package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseServe(t *testing.T) {
	c, _, err := parseServe(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.PostgresURL != "" || c.NATSURL != "" || c.AdminToken != "" ||
		c.WithDefaults().PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("defaults: %+v", c)
	}
	if c, _, err := parseServe([]string{"--schema-prefix", "shop2_"}, env(map[string]string{"ACME_BUS_PREFIX": "SHOP2_"}), io.Discard); err != nil ||
		c.SchemaPrefix != "shop2_" || c.BusPrefix != "SHOP2_" {
		t.Errorf("prefixes: %q %q, %v", c.SchemaPrefix, c.BusPrefix, err)
	}
	if c, _, err := parseServe([]string{"--card-latency", "authorize=10s"}, env(nil), io.Discard); err != nil || c.CardLatency != "authorize=10s" {
		t.Errorf("--card-latency: %q, %v", c.CardLatency, err)
	}
	if c, _, err := parseServe(nil, env(map[string]string{"ACME_CARD_LATENCY": "2s"}), io.Discard); err != nil || c.CardLatency != "2s" {
		t.Errorf("ACME_CARD_LATENCY: %q, %v", c.CardLatency, err)
	}
	if c, _, err := parseServe(nil, env(nil), io.Discard); err != nil || c.ReservationTTL != 15*time.Minute {
		t.Errorf("default reservation TTL: %s, %v", c.ReservationTTL, err)
	}
	if c, _, err := parseServe([]string{"--reservation-ttl", "90s"}, env(map[string]string{"ACME_RESERVATION_TTL": "1h"}), io.Discard); err != nil || c.ReservationTTL != 90*time.Second {
		t.Errorf("--reservation-ttl: %s, %v", c.ReservationTTL, err)
	}
	if c, _, err := parseServe(nil, env(map[string]string{"ACME_RESERVATION_TTL": "1h"}), io.Discard); err != nil || c.ReservationTTL != time.Hour {
		t.Errorf("ACME_RESERVATION_TTL: %s, %v", c.ReservationTTL, err)
	}
	// Links in emails: the listen address unless --public-url says otherwise;
	// an address of every interface is not one a customer can open.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", ":9090"}, "http://localhost:9090"},
		{[]string{"--addr", "0.0.0.0:9090"}, "http://localhost:9090"},
		{[]string{"--addr", "[::]:9090"}, "http://localhost:9090"},
		{[]string{"--addr", "[::1]:9090"}, "http://[::1]:9090"},
		{[]string{"--public-url", "https://shop.example.com/store"}, "https://shop.example.com/store"},
	} {
		c, _, err := parseServe(tc.args, env(nil), io.Discard)
		if got := c.WithDefaults().PublicURL; err != nil || got != tc.want {
			t.Errorf("%v: public URL %q (%v), want %q", tc.args, got, err, tc.want)
		}
	}
	c, _, err = parseServe([]string{"--addr", "127.0.0.1:9999", "--nats-url", "nats://127.0.0.1:4222"},
		env(map[string]string{"ACME_ADDR": "127.0.0.1:7777", "ACME_DATA_DIR": "/tmp/x", "ACME_ADMIN_TOKEN": "secret-token",
			"ACME_POSTGRES_URL": "postgres://u@127.0.0.1:5432/db", "ACME_SAGA_STEP_TIMEOUT": "2s", "ACME_DEBUG_ADDR": "127.0.0.1:6060",
			"ACME_NATS_CONSUMER_STATE": "file"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DataDir != "/tmp/x" || c.AdminToken != "secret-token" || c.NATSURL != "nats://127.0.0.1:4222" ||
		c.PostgresURL != "postgres://u@127.0.0.1:5432/db" || c.SagaStepTimeout != 2*time.Second || c.DebugAddr != "127.0.0.1:6060" || c.NATSConsumerState != "file" {
		t.Fatalf("flags over env over defaults: %+v", c)
	}
	for _, bad := range [][]string{
		{"--addr", "nonsense"},
		{"--postgres-url", "mysql://x"},
		{"--nats-url", "http://x:4222"},
		{"--redis-url", "redis//x"},
		{"--saga-step-timeout", "soon"},
		{"--debug-addr", "6060"},
		{"--nats-consumer-state", "disk"},
		{"--card-latency", "soon"},
		{"--reservation-ttl", "soon"},
		{"--reservation-ttl", "0s"},
		{"--reservation-ttl", "-1m"},
		{"--schema-prefix", "Acme-"},
		{"--bus-prefix", "a.b"},
		{"--card-latency", "charge=1s"},
		{"--public-url", "ftp://shop.example.com"},
		{"--public-url", "shop.example.com"},
		{"--public-url", "https://shop.example.com/?a=b"},
		{"extra-arg"},
	} {
		if _, _, err := parseServe(bad, env(nil), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, _, err := parseServe(nil, env(map[string]string{"ACME_ADMIN_TOKEN": "short"}), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "ACME_ADMIN_TOKEN") {
		t.Errorf("short admin token: %v", err)
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, env(nil), &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "acme ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"help"}, env(nil), &out, io.Discard); code != 0 || !strings.Contains(out.String(), "acme serve") {
		t.Fatalf("help: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, env(nil), io.Discard, io.Discard); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	dir := t.TempDir()
	if code := run(context.Background(), []string{"catalog", "export", dir}, env(nil), io.Discard, io.Discard); code != 0 {
		t.Fatalf("catalog export: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "asyncapi.json")); err != nil {
		t.Fatalf("catalog export wrote no asyncapi.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "events", "CustomerRegistered", "schema.json")); err != nil {
		t.Fatalf("catalog export lacks CustomerRegistered: %v", err)
	}
	if code := run(context.Background(), []string{"dlq"}, env(nil), io.Discard, io.Discard); code != 2 {
		t.Fatalf("dlq without a token: exit %d", code)
	}
}

// TestBinary builds the real binary, starts it on a free port with a temp data
// dir, waits for /readyz, stops it with SIGINT (exit 0) and starts it again on
// the same data dir; the admin CLI verbs talk to it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "acme")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	token := "e2e-admin-token"
	for round := 1; round <= 2; round++ {
		cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
		cmd.Env = append(os.Environ(), "ACME_ADMIN_TOKEN="+token)
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		urlc := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if _, u, ok := strings.Cut(sc.Text(), " listening on "); ok {
					urlc <- strings.Fields(u)[0]
				}
			}
		}()
		var base string
		select {
		case base = <-urlc:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: no 'listening on' line; stderr:\n%s", round, stderr.String())
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: readyz: %v %v\n%s", round, err, resp, stderr.String())
		}
		resp.Body.Close()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("round %d: ready after %s, want about a second", round, d)
		}
		// round 1 registers a customer; round 2 (same data dir) can log in
		if round == 1 {
			post(t, base+"/api/v1/customers", `{"email":"e2e@example.com","password":"Harbour-Lights-2049","name":"E2E"}`, 201)
		} else {
			post(t, base+"/api/v1/sessions", `{"email":"e2e@example.com","password":"Harbour-Lights-2049"}`, 201)
		}
		// an admin verb against the running server
		var out bytes.Buffer
		code := run(context.Background(), []string{"projections", "--server", base}, env(map[string]string{"ACME_ADMIN_TOKEN": token}), &out, &out)
		if code != 0 || !strings.Contains(out.String(), "items") {
			t.Errorf("round %d: acme projections: exit %d: %s", round, code, out.String())
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: exit after SIGINT: %v\n%s", round, err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: did not stop within 15 s of SIGINT\n%s", round, stderr.String())
		}
	}
}

func post(t *testing.T, url, body string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d: %s", url, resp.StatusCode, want, b)
	}
}

// TestHelpListsEveryEnvironmentVariable: acme help names every ACME_*
// variable serve reads.
func TestHelpListsEveryEnvironmentVariable(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	run(context.Background(), []string{"help"}, func(string) string { return "" }, &out, &out)
	for _, m := range regexp.MustCompile(`env\("(ACME_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !strings.Contains(out.String(), m[1]) {
			t.Errorf("acme help does not mention %s", m[1])
		}
	}
}

// TestClientFlagsAnywhere: the admin verbs take their flags before or after
// the positional arguments, and a flag never becomes an argument.
func TestClientFlagsAnywhere(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	env := func(k string) string {
		if k == "ACME_ADMIN_TOKEN" {
			return "t"
		}
		return ""
	}
	var out, errs strings.Builder
	for _, args := range [][]string{
		{"events", "order-1", "--server", srv.URL},
		{"events", "--server=" + srv.URL, "order-2"},
		{"dlq", "retry", "7", "--server", srv.URL},
	} {
		if code := run(context.Background(), args, env, &out, &errs); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errs.String())
		}
	}
	want := []string{"GET /api/v1/admin/streams/order-1/events", "GET /api/v1/admin/streams/order-2/events", "POST /api/v1/admin/dead-letters/7/retry"}
	if !slices.Equal(paths, want) {
		t.Fatalf("requests %q, want %q", paths, want)
	}
	// After "--" nothing is a flag, however many arguments follow.
	if code := run(context.Background(), []string{"dlq", "--server", srv.URL, "--", "retry", "-5"}, env, &out, &errs); code != 0 ||
		paths[len(paths)-1] != "POST /api/v1/admin/dead-letters/-5/retry" {
		t.Fatalf("dlq -- retry -5: exit %d, requests %q", code, paths)
	}
	paths = paths[:3]
	// The id forgotten: a usage error, not a retry of dead letter "--server=...".
	if code := run(context.Background(), []string{"dlq", "retry", "--server=" + srv.URL}, env, &out, &errs); code != 2 || len(paths) != 3 {
		t.Fatalf("dlq retry without an id: exit %d, requests %q", code, paths)
	}
}
