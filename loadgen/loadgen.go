// Package loadgen drives a running Acme Commerce server through its public
// HTTP API with N concurrent customers and measures checkout throughput and
// latency (the `acme loadgen` command).
//
// Setup: the admin creates a category and P products with a large stock;
// the customers register and sign in; the run waits until the cart knows every
// product. Then each customer loops
//
//	browse (GET /api/v1/products?q=...) → add one unit to the cart
//	→ POST /api/v1/cart/checkout (202) → poll GET /api/v1/checkouts/{id}
//	  until COMPLETED or FAILED
//
// optionally paced to a total rate of checkouts per second (an open-loop
// schedule: slot k starts at k/rate, however late the previous ones ended).
// The checkout completion latency is the time from the 202 response to the
// status request that observed COMPLETED. Status requests long-poll (?wait,
// Wait): the server answers as the checkout ends, so the latency is exact and
// a checkout costs one or two of them. With plain polls (Wait < 0) the
// resolution is the poll interval (PollEvery, or a tenth of the time waited
// so far when that is longer).
//
// The run is bounded in time (Duration, then at most DrainTimeout for the
// checkouts in flight) and optionally in count (MaxCheckouts), and refuses
// any server but a loopback one unless AllowRemote is set.
package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config of one run.
type Config struct {
	Server     string // base URL, e.g. http://127.0.0.1:8080
	AdminToken string
	Customers  int           // concurrent customers (default 10)
	Products   int           // products created in setup (default 20)
	Duration   time.Duration // measured run time (default 10 s)
	Warmup     time.Duration // run before measuring (not counted; default 0)
	Rate       float64       // checkouts started per second in total; 0: as fast as possible
	PollEvery  time.Duration // checkout status poll interval (default 2 ms)
	// Wait long-polls each checkout status request (GET ...?wait=N, whole
	// seconds, default 10 s): the server answers when the checkout ends, so
	// the completion latency is exact. Negative: plain polls every PollEvery.
	Wait         time.Duration
	MaxCheckouts int64 // stop starting checkouts after this many (0: no limit)
	// DrainTimeout bounds the wait for checkouts in flight at the end (default 30 s).
	DrainTimeout time.Duration
	// SetupConcurrency bounds the parallel requests of the setup (default 8).
	SetupConcurrency int
	AllowRemote      bool      // allow a non-loopback server
	Progress         io.Writer // a line per second (nil: none)
	Client           *http.Client
}

// Limits of a run.
const (
	MaxCustomers = 5000
	MaxProducts  = 10000
	MaxDuration  = time.Hour
)

// ErrConfig is Run's error for a Config it refuses before any request.
var ErrConfig = errors.New("invalid configuration")

func (c *Config) defaults() error {
	if c.Customers == 0 {
		c.Customers = 10
	}
	if c.Products == 0 {
		c.Products = 20
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.PollEvery == 0 {
		c.PollEvery = 2 * time.Millisecond
	}
	if c.Wait == 0 {
		c.Wait = 10 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.SetupConcurrency == 0 {
		c.SetupConcurrency = 8
	}
	switch {
	case c.Customers < 1 || c.Customers > MaxCustomers:
		return fmt.Errorf("customers must be 1..%d", MaxCustomers)
	case c.Products < 1 || c.Products > MaxProducts:
		return fmt.Errorf("products must be 1..%d", MaxProducts)
	case c.Duration < 0 || c.Duration > MaxDuration:
		return fmt.Errorf("duration must be at most %s", MaxDuration)
	case c.Warmup < 0 || c.Warmup > MaxDuration:
		return fmt.Errorf("warmup must be at most %s", MaxDuration)
	case c.Rate < 0 || math.IsInf(c.Rate, 0) || math.IsNaN(c.Rate):
		return errors.New("rate must be >= 0")
	case c.PollEvery < 0:
		return errors.New("poll interval must be >= 0")
	case c.Wait > 30*time.Second || (c.Wait > 0 && c.Wait%time.Second != 0):
		return errors.New("wait must be whole seconds, at most 30 s")
	case c.MaxCheckouts < 0:
		return errors.New("max checkouts must be >= 0")
	case c.AdminToken == "":
		return errors.New("the admin token is required (ACME_ADMIN_TOKEN)")
	}
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("server %q: want http(s)://host:port", c.Server)
	}
	if !c.AllowRemote && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("server %q is not a loopback address (127.0.0.1, ::1, localhost): pass --allow-remote to load a remote server", c.Server)
	}
	c.Server = strings.TrimRight(c.Server, "/")
	if c.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 0
		tr.MaxIdleConnsPerHost = c.Customers + c.SetupConcurrency + 4
		c.Client = &http.Client{Transport: tr, Timeout: max(c.Wait, 0) + 30*time.Second} // a long poll answers after up to Wait
	}
	return nil
}

// IsLoopback reports whether host names this machine only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Call kinds measured.
const (
	KindCreateCategory = "create_category"
	KindCreateProduct  = "create_product"
	KindRegister       = "register"
	KindLogin          = "login"
	KindBrowse         = "browse"
	KindAddToCart      = "add_to_cart"
	KindCheckout       = "checkout"
	KindPoll           = "poll_checkout"
)

var kindOrder = []string{KindCreateCategory, KindCreateProduct, KindRegister, KindLogin,
	KindBrowse, KindAddToCart, KindCheckout, KindPoll}

// Latency summarises samples.
type Latency struct {
	Count              int
	P50, P90, P99, Max time.Duration
}

func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Latency{Count: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: s[len(s)-1]}
}

// Call is the summary of one kind of HTTP call.
type Call struct {
	Kind    string
	Latency Latency
	Errors  int // transport errors and unexpected statuses
}

// Result of a run. Counts cover the whole run (warm-up included);
// throughput and latencies cover the measured window only.
type Result struct {
	Customers, Products int
	Rate                float64
	Setup               time.Duration
	Window              time.Duration // measured window
	// Checkouts accepted (202), then ended COMPLETED or FAILED, or still
	// PENDING at the end of the drain (Unfinished), or lost to a poll error
	// (Abandoned). Accepted = Completed + Failed + Unfinished + Abandoned.
	Accepted, Completed, Failed, Unfinished, Abandoned int64
	FailureReasons                                     map[string]int64
	Iterations                                         int64 // loops started
	IterationErrors                                    int64 // loops that ended before a checkout was accepted
	// In the measured window: completed checkouts and their latency.
	WindowCompleted int64
	Throughput      float64 // WindowCompleted / Window, per second
	Completion      Latency // 202 → COMPLETED observed
	Calls           []Call
	// ServerCPU is the server process's CPU time in the measured window, from
	// process_cpu_seconds_total of GET /metrics (0 when not served).
	ServerCPU time.Duration
	// Behind lists the consumers with messages pending right after the run
	// (GET /api/v1/admin/consumers): work the figures above left for later.
	// Nil when the server did not answer. CaughtUpAfter is how long after
	// that every consumer was caught up (polled up to CatchUpLimit; -1 if
	// not by then).
	Behind        map[string]int64
	CaughtUpAfter time.Duration
}

// CatchUpLimit bounds the wait for the consumers after a run.
const CatchUpLimit = 30 * time.Second

// sink collects samples.
type sink struct {
	measuring atomic.Bool
	mu        sync.Mutex
	lat       map[string][]time.Duration
	errs      map[string]int
	complete  []time.Duration
	reasons   map[string]int64
	lastErr   atomic.Value // string
}

func newSink() *sink {
	return &sink{lat: map[string][]time.Duration{}, errs: map[string]int{}, reasons: map[string]int64{}}
}

func (s *sink) call(kind string, d time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.errs[kind]++
		return
	}
	switch kind {
	case KindBrowse, KindAddToCart, KindCheckout, KindPoll:
		if !s.measuring.Load() {
			return
		}
	}
	s.lat[kind] = append(s.lat[kind], d)
}

// runner is one run.
type runner struct {
	cfg      Config
	sink     *sink
	run      string // unique suffix of this run's names
	products []string
	words    []string

	accepted, completed, failed, unfinished, abandoned atomic.Int64
	windowCompleted, inflight, iterations, iterErrs    atomic.Int64
	slots                                              atomic.Int64
}

type customer struct {
	email, token string
	rng          *mrand.Rand
}

// Run performs a run and returns its result; ctx cancels it (the checkouts in
// flight are still drained, within DrainTimeout).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	r := &runner{cfg: cfg, sink: newSink(), run: randHex(4)}
	setupStart := time.Now()
	customers, err := r.setup(ctx)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	res := &Result{Customers: cfg.Customers, Products: cfg.Products, Rate: cfg.Rate, Setup: time.Since(setupStart)}
	r.progressf("setup done in %s: %d products, %d customers signed in\n", res.Setup.Round(time.Millisecond), len(r.products), len(customers))

	// Start: no new loops after stopAt; loops in flight finish their checkout
	// (bounded by the drain deadline).
	start := time.Now()
	measureAt := start.Add(cfg.Warmup)
	stopAt := measureAt.Add(cfg.Duration)
	drainBy := stopAt.Add(cfg.DrainTimeout)
	loopCtx, stopLoops := context.WithDeadline(ctx, stopAt)
	defer stopLoops()
	drainCtx, stopDrain := context.WithDeadline(context.WithoutCancel(ctx), drainBy)
	defer stopDrain()
	var cpuFrom, cpuTo float64
	if cfg.Warmup == 0 {
		r.sink.measuring.Store(true)
		cpuFrom = r.serverCPU(ctx)
	}
	var measuredFrom, measuredTo time.Time
	measuredFrom = measureAt

	var wg sync.WaitGroup
	for i, c := range customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.rng = mrand.New(mrand.NewPCG(uint64(i), uint64(start.UnixNano())))
			r.loop(loopCtx, drainCtx, start, c)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// The window's edges are taken on time (not at the next progress tick).
	measureTimer := time.NewTimer(time.Until(measureAt))
	defer measureTimer.Stop()
	stopTimer := time.NewTimer(time.Until(stopAt))
	defer stopTimer.Stop()
	lastCompleted, lastAt := int64(0), start
	stopped := false
	for {
		select {
		case <-done:
		case now := <-measureTimer.C:
			if !r.sink.measuring.Load() {
				r.sink.measuring.Store(true)
				measuredFrom = now
				r.windowCompleted.Store(0)
				cpuFrom = r.serverCPU(ctx)
			}
			continue
		case <-stopTimer.C:
			stopped = true
			measuredTo = stopAt
			cpuTo = r.serverCPU(ctx)
			continue
		case now := <-tick.C:
			c := r.completed.Load()
			rate := float64(c-lastCompleted) / now.Sub(lastAt).Seconds()
			lastCompleted, lastAt = c, now
			phase := "run"
			switch {
			case !r.sink.measuring.Load():
				phase = "warmup"
			case stopped:
				phase = "drain"
			}
			r.progressf("%6.1fs %-6s completed %7d (%6.0f/s)  failed %5d  in flight %4d  errors %d%s\n",
				now.Sub(start).Seconds(), phase, c, rate, r.failed.Load(), r.inflight.Load(),
				r.iterErrs.Load()+r.abandoned.Load(), r.lastErrNote())
			continue
		}
		break
	}
	if measuredTo.IsZero() {
		measuredTo = time.Now()
		if measuredTo.After(stopAt) {
			measuredTo = stopAt
		}
	}
	if !stopped {
		cpuTo = r.serverCPU(ctx)
	}
	if !r.sink.measuring.Load() { // ended (count or ctx) before the warm-up did
		measuredFrom = measuredTo
	}
	if cpuFrom > 0 && cpuTo > cpuFrom {
		res.ServerCPU = time.Duration((cpuTo - cpuFrom) * float64(time.Second))
	}
	res.Window = max(measuredTo.Sub(measuredFrom), 0)
	res.Accepted, res.Completed, res.Failed = r.accepted.Load(), r.completed.Load(), r.failed.Load()
	res.Unfinished, res.Abandoned = r.unfinished.Load(), r.abandoned.Load()
	res.Iterations, res.IterationErrors = r.iterations.Load(), r.iterErrs.Load()
	res.WindowCompleted = r.windowCompleted.Load()
	if res.Window > 0 {
		res.Throughput = float64(res.WindowCompleted) / res.Window.Seconds()
	}
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	res.Completion = summarise(r.sink.complete)
	res.FailureReasons = maps(r.sink.reasons)
	for _, k := range kindOrder {
		if len(r.sink.lat[k]) == 0 && r.sink.errs[k] == 0 {
			continue
		}
		res.Calls = append(res.Calls, Call{Kind: k, Latency: summarise(r.sink.lat[k]), Errors: r.sink.errs[k]})
	}
	if ctx.Err() == nil {
		res.Behind, res.CaughtUpAfter = r.awaitConsumers(ctx)
	}
	return res, ctx.Err()
}

// awaitConsumers returns the consumers behind right now, and how long they
// took to catch up (-1: not within CatchUpLimit, or unknown).
func (r *runner) awaitConsumers(ctx context.Context) (map[string]int64, time.Duration) {
	first := r.consumersBehind(ctx)
	if first == nil {
		return nil, -1
	}
	start := time.Now()
	for behind := first; len(behind) > 0; behind = r.consumersBehind(ctx) {
		if behind == nil || time.Since(start) > CatchUpLimit || !sleepUntil(ctx, time.Now().Add(50*time.Millisecond)) {
			return first, -1
		}
	}
	return first, time.Since(start)
}

// consumersBehind returns the consumers with a lag, by name (nil if unknown).
func (r *runner) consumersBehind(ctx context.Context) map[string]int64 {
	var list struct {
		Items []struct {
			Name string `json:"name"`
			Lag  int64  `json:"lag"`
		} `json:"items"`
	}
	if _, err := r.do(ctx, "", "GET", "/api/v1/admin/consumers", r.cfg.AdminToken, nil, &list, http.StatusOK); err != nil {
		return nil
	}
	behind := map[string]int64{}
	for _, c := range list.Items {
		if c.Lag > 0 {
			behind[c.Name] = c.Lag
		}
	}
	return behind
}

func maps(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// serverCPU returns the server's process_cpu_seconds_total (0 if unknown).
func (r *runner) serverCPU(ctx context.Context) float64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", r.cfg.Server+"/metrics", nil)
	if err != nil {
		return 0
	}
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "process_cpu_seconds_total "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return 0
}

func (r *runner) lastErrNote() string {
	if s, _ := r.sink.lastErr.Load().(string); s != "" {
		return "  (last: " + s + ")"
	}
	return ""
}

func (r *runner) progressf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format, args...)
	}
}

// loop is one customer: iterations until loopCtx ends.
func (r *runner) loop(loopCtx, drainCtx context.Context, start time.Time, c *customer) {
	for loopCtx.Err() == nil {
		if r.cfg.Rate > 0 {
			k := r.slots.Add(1) - 1
			at := start.Add(time.Duration(float64(k) / r.cfg.Rate * float64(time.Second)))
			if !sleepUntil(loopCtx, at) {
				return
			}
		}
		if r.cfg.MaxCheckouts > 0 && r.iterations.Add(1) > r.cfg.MaxCheckouts {
			r.iterations.Add(-1)
			return
		} else if r.cfg.MaxCheckouts == 0 {
			r.iterations.Add(1)
		}
		switch r.iteration(loopCtx, drainCtx, c) {
		case stopped: // the run ended before the checkout was sent: not a loop
			r.iterations.Add(-1)
			return
		case failedEarly:
			r.iterErrs.Add(1)
			// Do not spin on a failing server.
			if !sleepUntil(loopCtx, time.Now().Add(50*time.Millisecond)) {
				return
			}
		}
	}
}

type outcome int

const (
	sent        outcome = iota // the checkout request was sent
	failedEarly                // browse, add or checkout failed
	stopped                    // the run ended first
)

// iteration: browse → add → checkout → poll. Once the checkout request is
// sent it runs to its end (bounded by drainCtx).
func (r *runner) iteration(loopCtx, drainCtx context.Context, c *customer) outcome {
	word := r.words[c.rng.IntN(len(r.words))]
	var page struct {
		Items []struct {
			ProductID string `json:"productId"`
		} `json:"items"`
	}
	if _, err := r.do(loopCtx, KindBrowse, "GET", "/api/v1/products?pageSize=10&q="+url.QueryEscape(word), c.token, nil, &page, 200); err != nil && loopCtx.Err() != nil {
		return stopped
	}
	product := r.products[c.rng.IntN(len(r.products))]
	if len(page.Items) > 0 {
		product = page.Items[c.rng.IntN(len(page.Items))].ProductID
	}
	if _, err := r.do(loopCtx, KindAddToCart, "POST", "/api/v1/cart/items", c.token,
		map[string]any{"productId": product, "quantity": 1}, nil, 200); err != nil {
		if loopCtx.Err() != nil {
			return stopped
		}
		return failedEarly
	}
	if loopCtx.Err() != nil {
		return stopped
	}
	var acc struct {
		CheckoutID string `json:"checkoutId"`
		Status     string `json:"status"`
	}
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	if _, err := r.do(drainCtx, KindCheckout, "POST", "/api/v1/cart/checkout", c.token, checkoutBody, &acc, 202); err != nil {
		return failedEarly
	}
	accepted := time.Now()
	r.accepted.Add(1)
	for {
		var v struct {
			Status        string `json:"status"`
			FailureReason string `json:"failureReason"`
		}
		path := "/api/v1/checkouts/" + acc.CheckoutID
		if r.cfg.Wait > 0 {
			path += "?wait=" + strconv.Itoa(int(r.cfg.Wait/time.Second))
		}
		_, err := r.do(drainCtx, KindPoll, "GET", path, c.token, nil, &v, 200)
		switch {
		case err != nil && drainCtx.Err() != nil:
			r.unfinished.Add(1)
			return sent
		case err != nil:
			// A poll error: keep polling (transient), bounded by the drain deadline.
		case v.Status == "COMPLETED":
			d := time.Since(accepted)
			r.completed.Add(1)
			if r.sink.measuring.Load() {
				r.windowCompleted.Add(1)
				r.sink.mu.Lock()
				r.sink.complete = append(r.sink.complete, d)
				r.sink.mu.Unlock()
			}
			return sent
		case v.Status == "FAILED":
			r.failed.Add(1)
			r.sink.mu.Lock()
			r.sink.reasons[v.FailureReason]++
			r.sink.mu.Unlock()
			// The cart is restored on failure: empty it so the next loop buys one unit.
			_, _ = r.do(drainCtx, "", "DELETE", "/api/v1/cart/items/"+product, c.token, nil, nil, 200)
			return sent
		case v.Status != "PENDING":
			r.sink.lastErr.Store("unexpected checkout status " + v.Status)
			r.abandoned.Add(1)
			return sent
		}
		if r.cfg.Wait > 0 && err == nil {
			continue // the long poll ran out: ask again at once
		}
		// Poll every PollEvery, or every tenth of the time waited so far when
		// that is longer: a resolution of 10 % at most, without flooding the
		// server with polls of slow checkouts.
		if !sleepUntil(drainCtx, time.Now().Add(max(r.cfg.PollEvery, time.Since(accepted)/10))) {
			r.unfinished.Add(1)
			return sent
		}
	}
}

var checkoutBody = map[string]any{
	"shippingAddress": map[string]any{"name": "Load Tester", "line1": "1 Bench Street", "city": "London", "postalCode": "N1 9GU", "country": "GB"},
	"paymentMethod":   map[string]any{"type": "card", "token": "tok_visa"},
}

// words the product names are made of; browse searches one of them.
var nameWords = []string{"lamp", "chair", "table", "kettle", "mug", "sofa", "shelf", "clock", "rug", "vase"}

// setup creates the catalog and the customers and waits until the cart
// accepts every product.
func (r *runner) setup(ctx context.Context) ([]*customer, error) {
	admin := r.cfg.AdminToken
	var cat struct {
		CategoryID string `json:"categoryId"`
	}
	if _, err := r.do(ctx, KindCreateCategory, "POST", "/api/v1/categories", admin,
		map[string]any{"name": "Loadgen " + r.run}, &cat, 201); err != nil {
		return nil, err
	}
	r.words = nameWords
	r.products = make([]string, r.cfg.Products)
	err := r.parallel(ctx, r.cfg.Products, func(i int) error {
		var p struct {
			ProductID string `json:"productId"`
		}
		w := nameWords[i%len(nameWords)]
		_, err := r.do(ctx, KindCreateProduct, "POST", "/api/v1/products", admin, map[string]any{
			"name":        fmt.Sprintf("Bench %s %d %s", w, i, r.run),
			"description": "A " + w + " made for load tests",
			"price":       map[string]any{"amount": 1000 + i, "currency": "USD"},
			"categoryId":  cat.CategoryID, "initialStock": 1_000_000_000,
		}, &p, 201)
		r.products[i] = p.ProductID
		return err
	})
	if err != nil {
		return nil, err
	}
	customers := make([]*customer, r.cfg.Customers)
	err = r.parallel(ctx, r.cfg.Customers, func(i int) error {
		c := &customer{email: fmt.Sprintf("load-%s-%d@example.com", r.run, i)}
		body := map[string]string{"email": c.email, "password": "loadgen-pass-123", "name": fmt.Sprintf("Load %d", i)}
		if _, err := r.do(ctx, KindRegister, "POST", "/api/v1/customers", "", body, nil, 201); err != nil {
			return err
		}
		var s struct {
			Token string `json:"token"`
		}
		if _, err := r.do(ctx, KindLogin, "POST", "/api/v1/sessions", "",
			map[string]string{"email": c.email, "password": body["password"]}, &s, 201); err != nil {
			return err
		}
		c.token = s.Token
		customers[i] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The cart learns products from catalog and inventory events: wait (30 s at
	// most) until each one can be added, then empty the probe's cart.
	probe := customers[0].token
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range r.products {
		for {
			st, err := r.do(ctx, "", "POST", "/api/v1/cart/items", probe, map[string]any{"productId": p, "quantity": 1}, nil, 200)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if time.Now().After(deadline) || st != http.StatusNotFound && st != http.StatusConflict {
				return nil, fmt.Errorf("product %s not accepted by the cart: %w", p, err)
			}
			sleepUntil(ctx, time.Now().Add(20*time.Millisecond))
		}
		if _, err := r.do(ctx, "", "DELETE", "/api/v1/cart/items/"+p, probe, nil, nil, 200); err != nil {
			return nil, err
		}
	}
	return customers, nil
}

// parallel runs f(0..n-1) with SetupConcurrency at a time; the first error wins.
func (r *runner) parallel(ctx context.Context, n int, f func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, r.cfg.SetupConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// do sends one request and decodes a want-status JSON body into out; kind ""
// is not measured. It returns the status (0 on a transport error).
func (r *runner) do(ctx context.Context, kind, method, path, token string, body, out any, want int) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.Server+path, rd)
	if err != nil {
		return 0, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	t0 := time.Now()
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		if kind != "" && ctx.Err() == nil {
			r.sink.call(kind, 0, false)
			r.sink.lastErr.Store(kind + ": " + err.Error())
		}
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err == nil && resp.StatusCode != want {
		err = fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, truncate(b, 300))
	}
	if err == nil && out != nil {
		if jerr := json.Unmarshal(b, out); jerr != nil {
			err = fmt.Errorf("%s %s: %v", method, path, jerr)
		}
	}
	if kind != "" {
		r.sink.call(kind, d, err == nil)
		if err != nil {
			r.sink.lastErr.Store(kind + ": " + err.Error())
		}
	}
	return resp.StatusCode, err
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Print writes the summary.
func (res *Result) Print(w io.Writer) {
	rate := "as fast as possible"
	if res.Rate > 0 {
		rate = fmt.Sprintf("%.0f checkouts/s offered", res.Rate)
	}
	fmt.Fprintf(w, "\n== summary: %d customers, %d products, %s; setup %s\n", res.Customers, res.Products, rate, res.Setup.Round(time.Millisecond))
	fmt.Fprintf(w, "checkouts: accepted %d = completed %d + failed %d + unfinished %d + abandoned %d; loops %d (errors before acceptance %d)\n",
		res.Accepted, res.Completed, res.Failed, res.Unfinished, res.Abandoned, res.Iterations, res.IterationErrors)
	if len(res.FailureReasons) > 0 {
		keys := make([]string, 0, len(res.FailureReasons))
		for k := range res.FailureReasons {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  failed %s: %d\n", k, res.FailureReasons[k])
		}
	}
	fmt.Fprintf(w, "throughput: %.1f completed checkouts/s (%d in the measured %s)\n", res.Throughput, res.WindowCompleted, res.Window.Round(time.Millisecond))
	if res.ServerCPU > 0 && res.Window > 0 {
		per := "-"
		if res.WindowCompleted > 0 {
			per = ms(res.ServerCPU / time.Duration(res.WindowCompleted))
		}
		fmt.Fprintf(w, "server CPU: %.2f cores busy on average, %s per completed checkout (process_cpu_seconds_total)\n",
			res.ServerCPU.Seconds()/res.Window.Seconds(), per)
	}
	switch {
	case res.Behind == nil:
	case len(res.Behind) == 0:
		fmt.Fprintln(w, "consumers behind at the end: none")
	default:
		names := make([]string, 0, len(res.Behind))
		for n := range res.Behind {
			names = append(names, n)
		}
		slices.Sort(names)
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, " %s %d", n, res.Behind[n])
		}
		after := fmt.Sprintf("not caught up within %s", CatchUpLimit)
		if res.CaughtUpAfter >= 0 {
			after = fmt.Sprintf("all caught up %s later", res.CaughtUpAfter.Round(time.Millisecond))
		}
		fmt.Fprintf(w, "consumers behind at the end (messages pending):%s; %s\n", b.String(), after)
	}
	fmt.Fprintf(w, "%-22s %7s %9s %9s %9s %9s %7s\n", "latency", "count", "p50", "p90", "p99", "max", "errors")
	row := func(name string, l Latency, errs int) {
		fmt.Fprintf(w, "%-22s %7d %9s %9s %9s %9s %7d\n", name, l.Count, ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), errs)
	}
	row("checkout completion", res.Completion, 0)
	for _, c := range res.Calls {
		row("  "+c.Kind, c.Latency, c.Errors)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
