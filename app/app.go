// Package app wires Acme Commerce together: it is the only place that knows the
// adapters (sqlite or postgres stores, the embedded or external NATS bus, the
// platform that runs relays, consumers and projections) and the list of bounded
// contexts (modules.go). cmd/acme parses flags into a Config and calls
// New → Run → Close; acmetest does the same in-process on 127.0.0.1:0.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"acme"
	"acme/es"
	"acme/httpapi"
	"acme/redis"
)

// Module is a bounded context as the app starts it.
type Module interface {
	es.Module
	Routes(api *httpapi.API)
}

// Platform runs what connects the contexts: a relay per context (store log →
// bus), durable consumers, projections, the admin routes and Await for
// Acme-Min-Position. Implemented by package platform.
type Platform interface {
	// Host returns the es.Host of context name over its store.
	Host(name string, store es.Store) es.Host
	// Start starts relays, consumers and projections registered on the hosts.
	Start(ctx context.Context) error
	// Close stops them: consumers finish (ack or nack) the message in hand.
	Close() error
	// Routes registers the admin routes (streams, projections, dead letters).
	Routes(api *httpapi.API)
	// Await implements httpapi.Awaiter.
	Await(ctx context.Context, pos httpapi.Position, reads []string) error
}

// App is one running Acme Commerce process.
type App struct {
	cfg      Config
	log      *slog.Logger
	api      *httpapi.API
	registry *es.Registry
	modules  []Module
	started  []Module // the modules Start succeeded on, in order (Close closes them)
	metrics  *prometheus.Registry

	generatedToken bool

	mu       sync.Mutex
	stores   []es.Store
	bus      es.Bus
	platform Platform
	ln       net.Listener
	srv      *http.Server
	debug    *http.Server // Config.DebugAddr's profiler, nil when off
	served   chan error
	stop     []context.CancelFunc
	closers  []func() error // adapters the modules were built with (the Redis client)
	ready    atomic.Bool
	closed   bool
}

// New builds the app from cfg (defaults applied, validated): the API, the
// module list and the message registry. Nothing is opened before Run.
func New(cfg Config) (*App, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	a := &App{cfg: cfg, log: cfg.Logger, metrics: prometheus.NewRegistry()}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if a.cfg.AdminToken == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		a.cfg.AdminToken = "acme_admin_" + hex.EncodeToString(b)
		a.generatedToken = true
	}
	if steps := 5 * a.cfg.SagaStepTimeout; a.cfg.ReservationTTL < steps {
		// A checkout may then outlive its reservation: it fails when the
		// expiry comes first, and one confirmed in the instant before
		// inventory commits its reservation has its order cancelled.
		a.log.Warn("the reservation TTL is shorter than a checkout's five steps may take: slow checkouts will fail insufficient_stock",
			"reservationTTL", a.cfg.ReservationTTL, "sagaStepTimeout", a.cfg.SagaStepTimeout)
	}
	a.modules = modules(Deps{Config: a.cfg, Clock: acme.SystemClock{}, IDs: acme.UUIDv7{},
		OnClose: func(f func() error) { a.closers = append(a.closers, f) }})
	var types []es.MessageType
	for _, m := range a.modules {
		types = append(types, m.Messages()...)
	}
	reg, err := es.NewRegistry(types...)
	if err != nil {
		return nil, fmt.Errorf("message registry: %w", err)
	}
	a.registry = reg
	a.api = httpapi.New(a.cfg.AdminToken)
	a.api.Logger = a.log
	for _, m := range a.modules {
		a.api.Contexts = append(a.api.Contexts, m.Name())
	}
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics.MustRegister(a.api.Collectors()...)
	return a, nil
}

// Config returns the effective configuration (defaults applied, admin token set).
func (a *App) Config() Config { return a.cfg }

// AdminToken is the admin's bearer token; GeneratedAdminToken says whether it
// was generated (so cmd/acme prints it once).
func (a *App) AdminToken() string        { return a.cfg.AdminToken }
func (a *App) GeneratedAdminToken() bool { return a.generatedToken }

// Registry is the process's message registry.
func (a *App) Registry() *es.Registry { return a.registry }

// API is the HTTP API (routes are registered by Run).
func (a *App) API() *httpapi.API { return a.api }

// Metrics is the Prometheus registry served at /metrics; adapters register here.
func (a *App) Metrics() *prometheus.Registry { return a.metrics }

// Addr is the address the server listens on (after Run), e.g. "127.0.0.1:41234".
func (a *App) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// URL is "http://" + Addr().
func (a *App) URL() string { return "http://" + a.Addr() }

// Ready reports whether /readyz answers 200.
func (a *App) Ready() bool { return a.ready.Load() }

// Run opens every store and the bus, starts the contexts and the platform,
// and serves HTTP. It returns once the process is ready (or failed to start:
// then everything opened is closed again). Serving goes on until Close.
func (a *App) Run(ctx context.Context) (err error) {
	start := time.Now()
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	a.registerOps()
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	a.mu.Lock()
	a.ln = ln
	a.srv = &http.Server{Handler: a.gate(a.api), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	a.srv.RegisterOnShutdown(a.api.Drain) // long polls answer at once
	a.served = make(chan error, 1)
	a.mu.Unlock()
	// Serve /healthz at once; /readyz says 503 until everything is up.
	go func() { a.served <- a.srv.Serve(ln) }()
	if err := a.serveDebug(); err != nil {
		return err
	}

	if err := os.MkdirAll(a.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if a.cfg.RedisURL != "" {
		// Like PostgreSQL and NATS, a Redis that does not answer stops the
		// start: the rating cache would otherwise fail at every write.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := redis.Open(pctx, a.cfg.RedisURL)
		cancel()
		if err != nil {
			return err
		}
		_ = c.Close()
	}
	open, err := openStores(ctx, a.cfg)
	if err != nil {
		return err
	}
	bus, err := openBus(ctx, a.cfg)
	if err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	a.mu.Lock()
	a.bus = bus
	a.mu.Unlock()
	pf, err := newPlatform(a, bus)
	if err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	a.mu.Lock()
	a.platform = pf
	a.mu.Unlock()

	// The HTTP layer's own store: Idempotency-Key responses.
	httpStore, err := a.openStore(ctx, open, "http")
	if err != nil {
		return err
	}
	if err := httpStore.Migrate(ctx, "http", httpapi.IdempotencyMigrations()); err != nil {
		return fmt.Errorf("migrate http store: %w", err)
	}
	idem := &httpapi.SQLIdempotency{DB: httpStore.DB()}
	a.api.Idempotency = idem
	a.purgeIdempotency(idem)
	a.api.Awaiter = pf

	a.log.Debug("bus and http store ready", "after", time.Since(start))
	// Open (and migrate) the context stores concurrently; start the contexts
	// one by one, in the order of modules.go.
	stores := make([]es.Store, len(a.modules))
	errs := make([]error, len(a.modules))
	var wg sync.WaitGroup
	for i, m := range a.modules {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = a.openStore(ctx, open, m.Name())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.log.Debug("stores open", "after", time.Since(start))
	for i, m := range a.modules {
		t0 := time.Now()
		st := stores[i]
		if err := m.Start(ctx, filteringHost{Host: pf.Host(m.Name(), st), log: a.log}); err != nil {
			return fmt.Errorf("start %s: %w", m.Name(), err)
		}
		a.mu.Lock()
		a.started = append(a.started, m)
		a.mu.Unlock()
		m.Routes(a.api)
		if auth, ok := m.(httpapi.Authenticator); ok {
			a.api.Auth = auth
		}
		a.log.Debug("context started", "context", m.Name(), "took", time.Since(t0))
	}
	t0 := time.Now()
	pf.Routes(a.api)
	registerDocs(a)
	if err := pf.Start(ctx); err != nil {
		return fmt.Errorf("start platform: %w", err)
	}
	a.log.Debug("platform started", "took", time.Since(t0))
	a.ready.Store(true)
	a.log.Info("acme ready", "addr", ln.Addr().String(), "dataDir", a.cfg.DataDir, "contexts", len(a.modules),
		"messages", len(a.registry.All()), "store", storeKind(a.cfg), "bus", busKind(a.cfg), "startup", time.Since(start).Round(time.Millisecond))
	return nil
}

// purgeIdempotency deletes expired Idempotency-Key responses now and every
// hour until Close.
func (a *App) purgeIdempotency(s *httpapi.SQLIdempotency) {
	ctx, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	a.stop = append(a.stop, cancel)
	a.mu.Unlock()
	go func() {
		for {
			if n, err := s.Purge(ctx, httpapi.Retention); err != nil && ctx.Err() == nil {
				a.log.Warn("purging idempotency keys failed", "err", err)
			} else if n > 0 {
				a.log.Info("purged idempotency keys", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Hour):
			}
		}
	}()
}

func (a *App) openStore(ctx context.Context, open es.Opener, name string) (es.Store, error) {
	st, err := open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	a.mu.Lock()
	a.stores = append(a.stores, st)
	a.mu.Unlock()
	return st, nil
}

// gate answers 503 to API requests until the app is ready (the routes and the
// API's fields are still being set up); /healthz, /readyz and /metrics always pass.
func (a *App) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
		default:
			if !a.ready.Load() {
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"type":"https://acme.example/problems/unavailable","title":"Service Unavailable","status":503,"code":"unavailable","detail":"the server is starting or stopping"}` + "\n"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// registerOps registers /healthz, /readyz and /metrics.
func (a *App) registerOps() {
	a.api.HandleHTTP("GET /healthz", "200 while the process lives.", "text/plain",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		}))
	a.api.HandleHTTP("GET /readyz", "200 once every store is open and migrated, the bus connected and consumers started; 503 before (and while stopping).", "text/plain",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !a.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready\n"))
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		}))
	a.api.HandleHTTP("GET /metrics", "Prometheus metrics (text exposition format).", "text/plain",
		promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{Registry: a.metrics}))
}

// Close stops the process cleanly: readiness goes down, in-flight requests
// finish, consumers and relays stop, the modules that are io.Closers stop
// their background work (in reverse start order), then the bus and the
// stores close.
// Safe to call more than once.
func (a *App) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.ready.Store(false)
	start := time.Now()
	defer func() { a.log.Debug("closed", "took", time.Since(start)) }()
	var errs []error
	if a.debug != nil {
		_ = a.debug.Close()
	}
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
		if err := <-a.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	for _, cancel := range a.stop {
		cancel()
	}
	if a.platform != nil {
		a.log.Debug("http server stopped", "after", time.Since(start))
		if err := a.platform.Close(); err != nil {
			errs = append(errs, fmt.Errorf("platform: %w", err))
		}
	}
	a.log.Debug("platform stopped", "after", time.Since(start))
	// Modules with background work (es.Module's optional io.Closer) stop it
	// now: nothing delivers to them any more, and their stores are still open.
	a.mu.Lock()
	started := a.started
	a.mu.Unlock()
	for i := len(started) - 1; i >= 0; i-- {
		if c, ok := started[i].(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", started[i].Name(), err))
			}
		}
	}
	a.log.Debug("modules closed", "after", time.Since(start))
	if a.bus != nil {
		if err := a.bus.Close(); err != nil {
			errs = append(errs, fmt.Errorf("bus: %w", err))
		}
	}
	a.log.Debug("bus closed", "after", time.Since(start))
	for i := len(a.stores) - 1; i >= 0; i-- {
		if err := a.stores[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	for _, f := range a.closers {
		if err := f(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func storeKind(c Config) string {
	if c.PostgresURL != "" {
		return "postgres"
	}
	return "sqlite"
}

func busKind(c Config) string {
	if c.NATSURL != "" {
		return "nats"
	}
	return "embedded-nats"
}

// serveDebug serves net/http/pprof on Config.DebugAddr, apart from the API
// (no admin token: profiles are taken from the machine itself).
func (a *App) serveDebug() error {
	if a.cfg.DebugAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("debug listener on %s: %w", a.cfg.DebugAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.mu.Lock()
	a.debug = srv
	a.mu.Unlock()
	a.log.Info("profiler listening", "addr", ln.Addr().String())
	go func() { _ = srv.Serve(ln) }()
	return nil
}
