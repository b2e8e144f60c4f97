// Package platform runs the messaging of the bounded contexts: it implements
// es.Host over an es.Bus. Per context it runs
//
//   - the relay (outbox by construction): tails the context store's log from a
//     durable checkpoint and publishes every entry to the bus subject of its
//     registered kind and owner; exactly one relay per context runs across all
//     processes (a bus lease);
//   - the consumers registered with Host.Consume: durable bus consumers whose
//     handlers' commits carry an inbox id, so each message is applied once;
//     failing messages are retried with backoff and dead-lettered after
//     Config.MaxDeliveries;
//   - the projections registered with Host.Project: read models over the
//     context's own log, checkpoint written in the read model's transaction.
//
// Await serves consistency tokens (Acme-Min-Position); Routes adds the admin
// API (projections, dead letters, streams). Names and headers: docs/bus.md.
package platform

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"acme"
	"acme/es"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Config configures a Platform. Bus and Registry are required.
type Config struct {
	Bus      es.Bus
	Registry *es.Registry
	// Metrics registers the platform's collectors (nil: not registered).
	Metrics prometheus.Registerer
	Logger  *slog.Logger  // default slog.Default()
	NewID   func() string // default acme.NewID (UUIDv7)
	// Holder identifies this process in leases (default a new id).
	Holder string
	// MaxDeliveries before a failing message is dead-lettered (default 5).
	MaxDeliveries int
	// Backoff is the redelivery delay after the first failure; it doubles per
	// delivery up to MaxBackoff (defaults 200 ms and 30 s).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Workers per consumer (default 1: messages are applied in bus order).
	Workers int
	// KeyedWorkers gives the named consumers ("<context>.<name>") that many
	// workers, each message going to the worker of its source stream
	// (Message.Subject): messages of one stream stay in order, different
	// streams (different checkouts, payments, orders) are applied in parallel.
	// For consumers whose handlers do not need bus order across streams.
	// Batch consumers (ConsumeBatch) ignore it: they run Workers workers.
	KeyedWorkers map[string]int
	// Retries overrides MaxDeliveries and MaxBackoff for the named consumers
	// ("<context>.<name>"), or for one message type of a consumer
	// ("<context>.<name>/<Type>", which wins): one whose handler calls a
	// service that may be down for minutes (a mail server, a card processor
	// asked for a refund) keeps trying longer before dead-lettering.
	Retries map[string]RetryPolicy
	// MaxBatch bounds the messages a ConsumeBatch consumer applies in one
	// commit (default 256; what the bus has ready, never a wait for more).
	MaxBatch int
	// StopGrace is how long Close lets the handlers in flight run before
	// their contexts end and their messages are nacked (default 5 s); work
	// queued but not started when Close begins is nacked at once. Either
	// comes back after StopGrace + 5 s (not to this closing process's last
	// pulls), and costs the message one delivery.
	StopGrace time.Duration
	// RelayBatch and ProjectionBatch bound the events read from a log at once
	// (default 1000).
	RelayBatch      int
	ProjectionBatch int
	// LeaseTTL of the relay lease (default 10 s; renewed every TTL/3).
	LeaseTTL time.Duration
	// AwaitTimeout bounds Await when ctx has no deadline (default 5 s).
	AwaitTimeout time.Duration
	// AckWait of the consumers (default 10 s): how long a delivery held by
	// a process that died waits before another gets it. A live process
	// holds its deliveries as long as it needs (heartbeat), however slow.
	AckWait time.Duration
	// Validate, when set, checks an incoming message (e.g. against its JSON
	// Schema) before its handler runs; a failure dead-letters it at once.
	Validate func(es.Message) error
}

func (c *Config) validate() error {
	if c.Bus == nil {
		return errors.New("platform: Config.Bus is required")
	}
	if c.Registry == nil {
		return errors.New("platform: Config.Registry is required")
	}
	return nil
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.NewID == nil {
		c.NewID = acme.NewID
	}
	if c.Holder == "" {
		c.Holder = acme.NewID()
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 5 * time.Second
	}
	if c.MaxDeliveries <= 0 {
		c.MaxDeliveries = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.RelayBatch <= 0 {
		c.RelayBatch = 1000
	}
	if c.ProjectionBatch <= 0 {
		c.ProjectionBatch = 1000
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.AwaitTimeout <= 0 {
		c.AwaitTimeout = 5 * time.Second
	}
	if c.AckWait <= 0 {
		c.AckWait = 10 * time.Second
	}
}

// RetryPolicy is a consumer's redelivery policy; a zero field keeps the
// platform's default.
type RetryPolicy struct {
	MaxDeliveries int
	MaxBackoff    time.Duration
}

// Platform hosts the contexts of one process.
type Platform struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	hosts   map[string]*host
	order   []string
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	// The consumers' heartbeats outlive the workers: Close stops them once
	// the workers have settled what they held.
	stopBeats context.CancelFunc
	beats     sync.WaitGroup
	// handlers is the parent of every handler's context: Close ends it
	// (cause errStopping) StopGrace after it began.
	handlers     context.Context
	stopHandlers context.CancelCauseFunc

	progress *notifier // signalled on any relay, consumer or projection progress
	retrying sync.Map  // dead-letter ids being retried (RetryDeadLetter)
}

// New returns a Platform; call Host for every context, the modules' Start, then
// Start.
func New(cfg Config) (*Platform, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Platform{cfg: cfg, log: cfg.Logger, metrics: m, hosts: map[string]*host{}, progress: newNotifier()}, nil
}

// Bus returns the platform's bus.
func (p *Platform) Bus() es.Bus { return p.cfg.Bus }

// Registry returns the message registry.
func (p *Platform) Registry() *es.Registry { return p.cfg.Registry }

// Host returns the es.Host of context name over its store (the same Host for the
// same name). Call it before Start.
func (p *Platform) Host(name string, store es.Store) es.Host {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.hosts[name]; ok {
		return h
	}
	h := &host{p: p, name: name, store: meteredStore{Store: store, m: p.metrics, context: name}, relay: &relay{}}
	h.relay.h = h
	p.hosts[name] = h
	p.order = append(p.order, name)
	return h
}

// Start prepares every context's checkpoints, subscribes the consumers and
// starts the relays, consumers and projection runners. It returns an error (and
// starts nothing) when a consumer names an unknown message type or a command
// another context owns.
func (p *Platform) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("platform: already started")
	}
	// Check every consumer's types first.
	for _, name := range p.order {
		h := p.hosts[name]
		for _, c := range h.consumers {
			subs, err := p.subjects(h.name, c.types)
			if err != nil {
				return fmt.Errorf("platform: consumer %s: %w", c.full, err)
			}
			c.subjects = subs
		}
	}
	for _, name := range p.order {
		h := p.hosts[name]
		if err := h.store.Migrate(ctx, "platform", mustSub(migrationsFS, "migrations")); err != nil {
			return fmt.Errorf("platform: %s: checkpoints: %w", name, err)
		}
		for _, pr := range h.projections {
			if pr.p.Migrations != nil {
				if err := h.store.Migrate(ctx, pr.p.Name, pr.p.Migrations); err != nil {
					return fmt.Errorf("platform: projection %s: migrate: %w", pr.p.Name, err)
				}
			}
			pos, err := readCheckpoint(ctx, h.store, projectionCheckpoint(pr.p.Name))
			if err != nil {
				return fmt.Errorf("platform: projection %s: %w", pr.p.Name, err)
			}
			pr.position.Store(pos)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var subs []es.Subscription
	for _, name := range p.order {
		for _, c := range p.hosts[name].consumers {
			sub, err := p.cfg.Bus.Subscribe(ctx, es.ConsumerSpec{Name: c.durable, Subjects: c.subjects, AckWait: p.cfg.AckWait, Batch: c.batch != nil})
			if err != nil {
				cancel()
				for _, s := range subs {
					_ = s.Close()
				}
				return fmt.Errorf("platform: consumer %s: %w", c.full, err)
			}
			c.sub = sub
			subs = append(subs, sub)
		}
	}
	p.cancel = cancel
	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	p.stopBeats = stopBeats
	p.handlers, p.stopHandlers = context.WithCancelCause(context.WithoutCancel(ctx))
	p.started = true
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.writePositions(runCtx) }()
	for _, name := range p.order {
		h := p.hosts[name]
		p.wg.Add(1)
		go func() { defer p.wg.Done(); h.relay.run(runCtx) }()
		for _, c := range h.consumers {
			p.beats.Add(1)
			go func() { defer p.beats.Done(); c.heartbeat(beatCtx, p.cfg.AckWait) }()
			if c.batch != nil {
				if p.cfg.KeyedWorkers[c.full] > 1 {
					p.log.Warn("KeyedWorkers ignored: a batch consumer applies its batches in bus order", "consumer", c.full)
				}
				for range p.cfg.Workers {
					p.wg.Add(1)
					go func() { defer p.wg.Done(); c.workBatch(runCtx) }()
				}
				continue
			}
			if n := p.cfg.KeyedWorkers[c.full]; n > 1 {
				p.wg.Add(1)
				go func() { defer p.wg.Done(); c.workKeyed(runCtx, n) }()
				continue
			}
			for range p.cfg.Workers {
				p.wg.Add(1)
				go func() { defer p.wg.Done(); c.work(runCtx) }()
			}
		}
		for _, pr := range h.projections {
			p.wg.Add(1)
			go func() { defer p.wg.Done(); pr.run(runCtx) }()
		}
	}
	return nil
}

// Close stops the relays (after their in-flight batch), lets the consumers finish
// (ack or nak) the messages they are handling, and stops the projections. It
// does not close the bus or the stores.
func (p *Platform) Close() error {
	p.mu.Lock()
	cancel := p.cancel
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	grace := time.AfterFunc(p.cfg.StopGrace, func() { p.stopHandlers(errStopping) })
	cancel()
	p.wg.Wait() // the workers have settled what they held
	grace.Stop()
	p.stopHandlers(errStopping)
	p.stopBeats()
	p.beats.Wait()
	fctx, done := context.WithTimeout(context.Background(), commitTimeout)
	for _, name := range p.order {
		if err := p.hosts[name].flushPositions(fctx); err != nil {
			p.log.Warn("consumer positions not written at close", "context", name, "err", err)
		}
	}
	done()
	var wg sync.WaitGroup
	for _, h := range p.hosts {
		for _, c := range h.consumers {
			if c.sub != nil {
				wg.Add(1)
				go func() { defer wg.Done(); _ = c.sub.Close() }()
			}
		}
	}
	wg.Wait()
	return nil
}

// subjects returns the bus subjects of types for a consumer of context ctxName.
func (p *Platform) subjects(ctxName string, types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, errors.New("no message types")
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range types {
		mt, ok := p.cfg.Registry.Lookup(t)
		if !ok {
			return nil, fmt.Errorf("unknown message type %q (not in the registry)", t)
		}
		spec := mt.Spec()
		if spec.Internal {
			return nil, fmt.Errorf("%s is internal to %s: it is never published", t, spec.Owner)
		}
		switch spec.Kind {
		case es.KindQuery:
			return nil, fmt.Errorf("%s is a query: queries are not on the bus", t)
		case es.KindCommand:
			if spec.Owner != ctxName {
				return nil, fmt.Errorf("command %s is owned by %s: only its owner consumes it", t, spec.Owner)
			}
		}
		s := es.SubjectOf(spec)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out, nil
}

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

// notifier wakes every waiter on each signal (a broadcast without a lost wake-up).
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

// C returns a channel closed at the next signal.
func (n *notifier) C() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) signal() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}
