// Package checkout is the Checkout Orchestrator: the Checkout Saga of the catalog,
// a process manager that turns a checked-out cart into a confirmed order, or
// fails leaving no stock held and no money taken.
//
// The saga's state is itself an event-sourced stream, "checkout-<checkoutId>":
// SagaStarted, then per step StepStarted (with its deadline), StepCompleted or
// StepFailed or StepTimedOut, CompensationSent, and finally CheckoutCompleted or
// CheckoutFailed (both published; cart consumes them). Every decision is made by
// the pure Decide from the stream's events and one input (a reply, a deadline);
// the commands it sends are appended in the same commit to "checkout-<id>.outbox",
// so a crash at any point resumes from the stream: a reply not yet applied is
// redelivered, a deadline not yet fired fires.
//
// Steps (each with a deadline, Config.StepTimeout):
//
//	RESERVE_INVENTORY  ReserveInventory  → InventoryReserved | InventoryUnavailable
//	AUTHORIZE_PAYMENT  AuthorizePayment  → PaymentAuthorized | PaymentFailed
//	CREATE_ORDER       CreateOrder       → OrderCreated (PENDING)
//	CAPTURE_PAYMENT    CapturePayment    → PaymentSucceeded | PaymentFailed
//	CONFIRM_ORDER      ConfirmOrder      → OrderConfirmed → CheckoutCompleted
//
// Compensation: InventoryUnavailable → CheckoutFailed(insufficient_stock);
// PaymentFailed at authorization → ReleaseInventory(CHECKOUT_FAILED) +
// CheckoutFailed(payment_declined | payment_error); any later failure or a
// timeout → ReleaseInventory + VoidPayment + CancelOrder (when an order was asked
// for) + CheckoutFailed(payment_error; insufficient_stock for a reservation that
// timed out). A reply arriving after the saga failed is undone once: a late
// InventoryReserved is released, a late PaymentAuthorized voided, a late
// OrderCreated cancelled (ordering then releases and voids or refunds). A
// reservation that expires (InventoryReleased EXPIRED, Config.ReservationTTL)
// before the order is confirmed fails the saga insufficient_stock: VoidPayment
// + CancelOrder (OUT_OF_STOCK), nothing left to release; one that expired in
// the instant before inventory committed a confirmed order's reservation
// cancels that order (OUT_OF_STOCK: it holds no stock), the checkout staying
// COMPLETED. An
// order cancelled by its owner or an admin before the saga confirmed it ends
// the saga COMPLETED with that order (ordering's cancellation undoes the rest).
//
// Replies are consumed exactly once (the host's inbox) and the decider ignores a
// duplicate reply, a reply of another step and a deadline that is not due, so
// redelivery never changes the outcome.
//
// Messages in: CartCheckedOut (cart); InventoryReserved, InventoryUnavailable,
// InventoryReleased (inventory: an expiry fails a running saga); PaymentAuthorized, PaymentFailed, PaymentSucceeded (payments);
// OrderCreated, OrderConfirmed, OrderCancelled (ordering). Messages out: ReserveInventory,
// ReleaseInventory (inventory), AuthorizePayment, CapturePayment, VoidPayment
// (payments), CreateOrder, ConfirmOrder, CancelOrder (ordering),
// CheckoutCompleted, CheckoutFailed.
//
// Read model: checkout_sagas (inline, same transaction), served at
// GET /api/v1/admin/sagas and scanned by the deadline worker, which sleeps until
// the earliest pending deadline.
package checkout

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"acme"
	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures the saga.
type Config struct {
	// StepTimeout is the deadline of every step (default 30 s).
	StepTimeout time.Duration
	// ReservationTTL is how long inventory holds the stock if nothing confirms
	// the reservation (default 15 min; a confirmed order commits it).
	ReservationTTL time.Duration
	// Clock tells the time (default the system clock).
	Clock acme.Clock
	// MaxIdle bounds the deadline worker's sleep when it knows of no deadline,
	// so deadlines written by other processes are seen (default 1 s).
	MaxIdle time.Duration
}

// Module is the checkout bounded context.
type Module struct {
	cfg   Config
	h     es.Host
	sagas *es.Aggregate[Saga, any]

	mu      sync.Mutex
	hint    time.Time // the earliest deadline written by this process since the last scan
	planned time.Time // when the worker wakes next
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	closing sync.Once
}

// New returns the checkout context.
func New(cfg Config) *Module {
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 30 * time.Second
	}
	if cfg.ReservationTTL <= 0 {
		cfg.ReservationTTL = 15 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = acme.SystemClock{}
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = time.Second
	}
	return &Module{cfg: cfg, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// Name is the context's name.
func (m *Module) Name() string { return owner }

// Messages lists every message checkout declares.
func (m *Module) Messages() []es.MessageType { return messages() }

// Start applies the migrations, registers the consumers and starts the
// deadline worker. The worker outlives ctx (a start-up context); it stops on
// Close or, at the latest MaxIdle after, when the store is closed.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	m.h = h
	if err := es.MigrateDir(ctx, h.Store(), owner, migrations, "migrations"); err != nil {
		return fmt.Errorf("checkout: migrate: %w", err)
	}
	// Each reply loads its saga: with the states of running sagas cached,
	// a load decodes the events of the last step only, not the whole stream
	// (Evolve never mutates its input, as the cache requires).
	m.sagas = &es.Aggregate[Saga, any]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID,
		StreamType: "checkout", Decider: Evolver, CacheStates: 4096}
	consume(ctx, h, "start", []string{"CartCheckedOut"}, m.onCartCheckedOut)
	replies := known(ctx, h, "replies", []string{"InventoryReserved", "InventoryUnavailable", "InventoryReleased", "PaymentAuthorized", "PaymentFailed",
		"PaymentSucceeded", "OrderCreated", "OrderConfirmed", "OrderCancelled"})
	if len(replies) > 0 {
		h.ConsumeBatch("replies", replies, m.onReplies)
	}
	go m.deadlines(context.WithoutCancel(ctx))
	return nil
}

// Close stops the deadline worker and waits for it.
func (m *Module) Close() error {
	m.closing.Do(func() { close(m.quit) })
	if m.h != nil {
		<-m.done
	}
	return nil
}

func streamID(checkoutID string) string { return "checkout-" + checkoutID }

func (m *Module) now() time.Time { return m.cfg.Clock.Now().UTC() }

// decide loads the saga, decides on in and returns the commit storing the
// saga's events, the commands it sends (outbox) and its read-model row.
func (m *Module) decide(ctx context.Context, checkoutID string, in any) (es.Commit, Saga, bool, error) {
	sid := streamID(checkoutID)
	cur, err := m.sagas.Load(ctx, sid, es.StreamQuery{})
	if err != nil {
		return es.Commit{}, cur.State, false, err
	}
	d := Decide(cur.State, in)
	if len(d.Events) == 0 && len(d.Send) == 0 {
		return es.Commit{}, cur.State, false, nil
	}
	md := es.MetadataFrom(ctx)
	if md.CorrelationID == "" {
		md.CorrelationID = checkoutID
	}
	st := cur.State
	app := es.Append{StreamID: sid, StreamType: "checkout", Expected: cur.Version}
	for _, v := range d.Events {
		e, err := m.h.Registry().Encode(m.h.NewID(), v, md)
		if err != nil {
			return es.Commit{}, cur.State, false, err
		}
		app.Events = append(app.Events, e)
		st = Evolve(st, v)
	}
	c := es.Commit{Appends: []es.Append{app}}
	if len(d.Send) > 0 {
		out := es.Append{StreamID: sid + ".outbox", StreamType: "checkout.outbox", Expected: es.AnyVersion}
		for _, s := range d.Send {
			b, err := json.Marshal(s.Data)
			if err != nil {
				return es.Commit{}, cur.State, false, fmt.Errorf("checkout: encode %s: %w", s.Type, err)
			}
			out.Events = append(out.Events, es.Event{ID: m.h.NewID(), Type: s.Type, SchemaVersion: 1, Data: b, Metadata: md})
		}
		c.Appends = append(c.Appends, out)
	}
	version := cur.Version + int64(len(d.Events))
	c.Apply = func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		if err := upsertSaga(ctx, tx, st, version); err != nil {
			return err
		}
		if st.Status == StatusRunning {
			m.hintDeadline(st.Deadline)
		}
		return nil
	}
	return c, st, true, nil
}

// execute decides and commits, retrying when another writer won the race.
func (m *Module) execute(ctx context.Context, checkoutID string, in any) (Saga, error) {
	var st Saga
	err := es.RetryConflicts(ctx, es.ConflictRetries, func() error {
		c, s, changed, err := m.decide(ctx, checkoutID, in)
		st = s
		if err != nil || !changed {
			return err
		}
		_, err = m.h.Store().Commit(ctx, c)
		return err
	})
	return st, err
}

// Load returns the saga of checkoutID (Version 0: no such saga).
func (m *Module) Load(ctx context.Context, checkoutID string) (es.Loaded[Saga], error) {
	return m.sagas.Load(ctx, streamID(checkoutID), es.StreamQuery{})
}

func (m *Module) onCartCheckedOut(ctx context.Context, msg es.Message) (es.Commit, error) {
	var c CartCheckedOut
	if err := json.Unmarshal(msg.Data, &c); err != nil {
		return es.Commit{}, es.Permanent(fmt.Errorf("checkout: decode CartCheckedOut: %w", err))
	}
	if !acme.ValidID(c.CheckoutID) {
		return es.Commit{}, es.Permanent(fmt.Errorf("checkout: CartCheckedOut %s has no valid checkoutId", msg.ID))
	}
	now := m.now()
	commit, _, _, err := m.decide(ctx, c.CheckoutID, Start{Cart: c, Now: now, StepTimeout: m.cfg.StepTimeout,
		ReservationExpiresAt: now.Add(m.cfg.ReservationTTL)})
	return commit, err
}

// reply is the part of every reply the saga reads (tolerant reader).
type reply struct {
	CheckoutID      string `json:"checkoutId"`
	PaymentID       string `json:"paymentId"`
	AuthorizationID string `json:"authorizationId"`
	OrderID         string `json:"orderId"`
	Reason          string `json:"reason"`
}

// errSagaTwice: a batch holds two replies of one saga; the platform then
// applies its messages one at a time (the second must see the first's events).
var errSagaTwice = errors.New("checkout: two replies of one saga in a batch")

// onReplies applies replies, each to its own saga, in one commit: under load,
// replies of many checkouts share a transaction. (The platform calls it with
// one message when it applies them one at a time.)
func (m *Module) onReplies(ctx context.Context, ms []es.Message) (es.Commit, error) {
	seen := make(map[string]bool, len(ms))
	commits := make([]es.Commit, 0, len(ms))
	for _, msg := range ms {
		var r reply
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			return es.Commit{}, es.Permanent(fmt.Errorf("checkout: decode %s: %w", msg.Type, err))
		}
		if !acme.ValidID(r.CheckoutID) {
			continue // not about a checkout (an order placed otherwise, say)
		}
		if seen[r.CheckoutID] {
			return es.Commit{}, errSagaTwice
		}
		seen[r.CheckoutID] = true
		c, _, _, err := m.decide(es.HandlerContext(ctx, msg), r.CheckoutID, m.replyInput(msg.Type, r))
		if err != nil {
			return es.Commit{}, err
		}
		commits = append(commits, c)
	}
	return es.Join(commits...), nil
}

func (m *Module) replyInput(typ string, r reply) Reply {
	return Reply{Type: typ, PaymentID: r.PaymentID, AuthorizationID: r.AuthorizationID, OrderID: r.OrderID,
		Reason: r.Reason, Now: m.now(), StepTimeout: m.cfg.StepTimeout, NewPaymentID: m.h.NewID(), NewOrderID: m.h.NewID()}
}

// hintDeadline tells the deadline worker about a deadline this process wrote.
func (m *Module) hintDeadline(t time.Time) {
	if t.IsZero() {
		return
	}
	m.mu.Lock()
	if !t.Before(m.planned) && !m.planned.IsZero() {
		m.mu.Unlock()
		return // the worker wakes before then and sees it in the read model
	}
	if m.hint.IsZero() || t.Before(m.hint) {
		m.hint = t
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// FireDeadlines times out every running saga whose deadline has passed and
// returns the earliest deadline still pending (zero if none).
func (m *Module) FireDeadlines(ctx context.Context) (time.Time, error) {
	now := m.now()
	due, next, err := pendingDeadlines(ctx, m.h.Store().DB(), now, 500)
	if err != nil {
		return time.Time{}, err
	}
	var errs []error
	for _, id := range due {
		mdctx := es.WithMetadata(ctx, es.Metadata{CorrelationID: id, Actor: "system:checkout-deadlines"})
		if _, err := m.execute(mdctx, id, Deadline{Now: now}); err != nil {
			errs = append(errs, fmt.Errorf("checkout %s: %w", id, err))
		}
	}
	if len(due) == 500 {
		next = now // more are due
	}
	return next, errors.Join(errs...)
}

// deadlines is the deadline worker: it fires due deadlines and sleeps until the
// earliest pending one (or a new one written by this process, or MaxIdle).
func (m *Module) deadlines(ctx context.Context) {
	defer close(m.done)
	for {
		select {
		case <-m.quit:
			return
		default:
		}
		m.mu.Lock()
		m.planned = time.Time{} // scanning: every hint counts
		m.mu.Unlock()
		next, err := m.FireDeadlines(ctx)
		if err != nil {
			if _, herr := m.h.Store().Head(ctx); errors.Is(herr, es.ErrClosed) || ctx.Err() != nil {
				return
			}
			slog.WarnContext(ctx, "checkout: deadline worker", "err", err)
		}
		now := m.now()
		m.mu.Lock()
		if !m.hint.IsZero() && (next.IsZero() || m.hint.Before(next)) {
			next = m.hint
		}
		m.hint = time.Time{}
		wait := m.cfg.MaxIdle
		if !next.IsZero() {
			wait = min(wait, next.Sub(now))
		}
		m.planned = now.Add(wait)
		m.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-m.quit:
				t.Stop()
				return
			case <-m.wake:
			case <-t.C:
			}
			t.Stop()
		}
		if _, err := m.h.Store().Head(ctx); errors.Is(err, es.ErrClosed) {
			return
		}
	}
}

// consume registers a consumer of the given types that are declared in this
// build (a context that is not part of it publishes nothing to wait for).
func consume(ctx context.Context, h es.Host, name string, types []string, hd es.Handler) {
	if ts := known(ctx, h, name, types); len(ts) > 0 {
		h.Consume(name, ts, hd)
	}
}

// known returns the types declared in this build.
func known(ctx context.Context, h es.Host, name string, types []string) []string {
	var out []string
	for _, t := range types {
		if _, ok := h.Registry().Lookup(t); ok {
			out = append(out, t)
		} else {
			slog.WarnContext(ctx, "not consuming a message no context of this build declares", "context", h.Name(), "consumer", name, "type", t)
		}
	}
	return out
}
