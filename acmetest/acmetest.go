// Package acmetest runs the whole Acme Commerce program in-process for tests:
// every context, the platform, the stores and the bus, serving HTTP on
// 127.0.0.1:0 with a temporary data directory.
//
//	func TestCheckout(t *testing.T) {
//		acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
//			id, tok := s.RegisterCustomer(t)
//			r := s.Do(t, "GET", "/api/v1/customers/"+id, tok, nil)
//			r.Want(t, 200)
//			...
//		})
//	}
//
// Run runs the same test against both modes: Embedded (SQLite files and an
// embedded NATS server) and ServerMode (PostgreSQL, an external NATS JetStream
// and Redis from testenv; every run isolated by a unique PostgreSQL schema
// prefix and NATS stream/subject prefix). Server mode is skipped with a
// message outside CI when a service is down, and fails under CI=true.
package acmetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"acme/app"
	"acme/testenv"
)

// Mode says which adapters the program runs with.
type Mode int

const (
	// Embedded: SQLite under a temp dir, embedded NATS, in-process rating cache.
	Embedded Mode = iota
	// ServerMode: PostgreSQL, external NATS JetStream and Redis (testenv URLs).
	ServerMode
)

func (m Mode) String() string {
	if m == ServerMode {
		return "server"
	}
	return "embedded"
}

// Server is a running program.
type Server struct {
	URL        string // "http://127.0.0.1:PORT"
	AdminToken string
	Mode       Mode
	DataDir    string
	App        *app.App
	Client     *http.Client

	cfg app.Config
}

// Option adjusts the program's Config before it starts.
type Option func(*app.Config)

// WithConfig returns an Option that runs f on the Config (e.g. a short saga
// step timeout, a Stripe key).
func WithConfig(f func(*app.Config)) Option { return Option(f) }

// Start runs the program in mode and stops it when t ends. In Server mode it
// skips t (outside CI) or fails it (CI=true) when a service is down.
func Start(t testing.TB, mode Mode, opts ...Option) *Server {
	t.Helper()
	cfg := app.Config{
		Addr:       "127.0.0.1:0",
		DataDir:    t.TempDir(),
		AdminToken: "test-admin-" + randHex(8),
		Logger:     testLogger(),
	}
	if mode == ServerMode {
		cfg.PostgresURL = testenv.PostgresURL(t)
		cfg.NATSURL = testenv.NATSURL(t)
		cfg.RedisURL = testenv.RedisURL(t)
		run := "t" + randHex(6)
		cfg.SchemaPrefix = run + "_"
		cfg.BusPrefix = strings.ToUpper(run) + "_"
		t.Cleanup(func() { cleanupServer(cfg) })
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{Mode: mode, DataDir: cfg.DataDir, cfg: cfg,
		Client: &http.Client{Timeout: 30 * time.Second}}
	s.start(t)
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	a, err := app.New(s.cfg)
	if err != nil {
		t.Fatalf("acmetest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatalf("acmetest: start (%s): %v", s.Mode, err)
	}
	s.App, s.URL, s.AdminToken = a, a.URL(), a.AdminToken()
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("acmetest: stop: %v", err)
		}
	})
}

// Restart stops the program and starts it again on the same data directory
// (and, in Server mode, the same schemas and streams), on a new port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.App.Close(); err != nil {
		t.Fatalf("acmetest: stop: %v", err)
	}
	s.start(t)
}

// ServerEnv is the environment of an `acme serve` subprocess in Server mode:
// the test services' URLs and a unique schema and bus prefix, whose schemas,
// streams and keys are removed when t ends. Tests of killed processes use it
// (a killed process cannot be a Server).
func ServerEnv(t testing.TB) []string {
	t.Helper()
	run := "t" + randHex(6)
	cfg := app.Config{PostgresURL: testenv.PostgresURL(t), NATSURL: testenv.NATSURL(t), RedisURL: testenv.RedisURL(t),
		SchemaPrefix: run + "_", BusPrefix: strings.ToUpper(run) + "_"}
	t.Cleanup(func() { cleanupServer(cfg) })
	return []string{"ACME_POSTGRES_URL=" + cfg.PostgresURL, "ACME_NATS_URL=" + cfg.NATSURL, "ACME_REDIS_URL=" + cfg.RedisURL,
		"ACME_SCHEMA_PREFIX=" + cfg.SchemaPrefix, "ACME_BUS_PREFIX=" + cfg.BusPrefix}
}

// Join starts a second process of s's deployment (Server mode only): the same
// PostgreSQL schemas, NATS streams, Redis and admin token, its own data
// directory and port. Both serve the whole API; it stops when t ends.
func (s *Server) Join(t testing.TB) *Server {
	t.Helper()
	if s.Mode != ServerMode {
		t.Fatal("acmetest: Join needs Server mode (an embedded program's data is its own)")
	}
	cfg := s.cfg
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = s.AdminToken
	other := &Server{Mode: s.Mode, DataDir: cfg.DataDir, cfg: cfg, Client: &http.Client{Timeout: 30 * time.Second}}
	other.start(t)
	return other
}

// Run runs f against the Embedded program and, when the services answer (or
// under CI=true, where they must), the Server program, as subtests
// "embedded" and "server". Each gets a fresh program.
func Run(t *testing.T, f func(t *testing.T, s *Server), opts ...Option) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { f(t, Start(t, Embedded, opts...)) })
	t.Run("server", func(t *testing.T) {
		if !testenv.ServerMode(t) {
			t.Skip("server mode skipped (see the log above): start PostgreSQL, NATS and Redis (docs/architecture.md) or run with CI=true")
		}
		f(t, Start(t, ServerMode, opts...))
	})
}

// Response is a response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// JSON is the decoded body (map[string]any, []any, ...) when it is JSON, else nil.
	JSON any
}

// Map returns the body as a JSON object (empty if it is not one).
func (r *Response) Map() map[string]any {
	m, _ := r.JSON.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// Str returns the string field key of the body object ("" if absent).
func (r *Response) Str(key string) string {
	s, _ := r.Map()[key].(string)
	return s
}

// Items returns the "items" array of a list body.
func (r *Response) Items() []map[string]any {
	arr, _ := r.Map()["items"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

// Code returns the problem+json code of an error response.
func (r *Response) Code() string { return r.Str("code") }

// Decode unmarshals the body into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("acmetest: decode %s: %v", r.Body, err)
	}
}

// Want fails t unless the status is want (showing the body).
func (r *Response) Want(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// WantError fails t unless the response is a problem+json with status and code.
func (r *Response) WantError(t testing.TB, status int, code string) *Response {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Fatalf("got %d %q, want %d %q; body: %s", r.Status, r.Code(), status, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	return r
}

// Do sends a request as the caller with token ("" for anonymous). body is
// nil (no body), []byte or string (sent as is), or any value (sent as JSON).
func (s *Server) Do(t testing.TB, method, path, token string, body any) *Response {
	t.Helper()
	return s.DoWith(t, method, path, token, body, nil)
}

// DoWith is Do with extra request headers (Idempotency-Key, Acme-Min-Position, ...).
func (s *Server) DoWith(t testing.TB, method, path, token string, body any, headers map[string]string) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("acmetest: encode body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatalf("acmetest: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("acmetest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("acmetest: %s %s: read body: %v", method, path, err)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if len(bytes.TrimSpace(b)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(b, &r.JSON)
	}
	return r
}

// Password is the password RegisterCustomer uses (valid under the contract's rules).
const Password = "Harbour-Lights-2049"

// RegisterCustomer registers a new customer with a unique email and opens a
// session; it returns the customer id and the session token.
func (s *Server) RegisterCustomer(t testing.TB) (id, token string) {
	t.Helper()
	email := fmt.Sprintf("c-%s@example.com", randHex(6))
	r := s.Do(t, "POST", "/api/v1/customers", "", map[string]string{"email": email, "password": Password, "name": "Test Customer"})
	r.Want(t, http.StatusCreated)
	id = r.Str("customerId")
	r = s.Do(t, "POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": Password})
	r.Want(t, http.StatusCreated)
	return id, r.Str("token")
}

// Eventually polls cond every 10 ms until it is true, failing t after 10 s.
func (s *Server) Eventually(t testing.TB, cond func() bool) {
	t.Helper()
	Eventually(t, 10*time.Second, cond)
}

// Eventually polls cond every 10 ms until it is true, failing t after within.
func Eventually(t testing.TB, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("acmetest: condition not met within %s", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testLogger discards the program's logs unless ACME_TEST_LOG is set (to a
// level: debug, info, warn, error), then they go to stderr.
func testLogger() *slog.Logger {
	lv := os.Getenv("ACME_TEST_LOG")
	if lv == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(lv))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
