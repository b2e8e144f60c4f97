package inventory

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

// fakeHost is estest.Host with deliver returning the handler's or the
// commit's error (some tests expect one) instead of failing the test.
type fakeHost struct{ *estest.Host }

// deliver applies one message as the platform would (inbox, retry on ErrConcurrency).
func (h fakeHost) deliver(t testing.TB, typ, id string, data any) error {
	t.Helper()
	if h.Consumer(typ) == "" {
		t.Fatalf("no consumer of %s", typ)
	}
	_, err := h.Apply(context.Background(), estest.Message(t, typ, id, data))
	return err
}

type fixedClock struct{ now atomic.Pointer[time.Time] }

func (c *fixedClock) Now() time.Time      { return *c.now.Load() }
func (c *fixedClock) set(t time.Time)     { c.now.Store(&t) }
func (c *fixedClock) add(d time.Duration) { c.set(c.Now().Add(d)) }
func newClock() *fixedClock {
	c := &fixedClock{}
	c.set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	return c
}

func startTest(t testing.TB, opts ...sqlite.Option) (*Module, *fakeHost, *fixedClock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "inventory.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := es.NewRegistry(messages...)
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{estest.NewHost(owner, st, reg)}
	clock := newClock()
	m := New(WithClock(clock), WithSweepInterval(0))
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return m, h, clock
}

// applyBatch applies ms as the platform applies a batch of the commands
// consumer: one handler call, one commit with every message's inbox id.
func applyBatch(t testing.TB, m *Module, h *fakeHost, ms []es.Message) {
	t.Helper()
	c, err := m.Service().onCommands(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range ms {
		c.InboxIDs = append(c.InboxIDs, ConsumerCommands+"/"+msg.ID)
	}
	if _, err := h.Store().Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func createProduct(t testing.TB, h *fakeHost, productID string, initialStock int64) {
	t.Helper()
	if err := h.deliver(t, "ProductCreated", acme.NewID(), map[string]any{"productId": productID, "name": "x", "initialStock": initialStock}); err != nil {
		t.Fatal(err)
	}
}

func TestServiceRestockAndLevel(t *testing.T) {
	m, h, _ := startTest(t)
	s := m.Service()
	ctx := context.Background()
	prod, other := acme.NewID(), acme.NewID()

	if _, _, err := s.Restock(ctx, prod, "", 1); acme.ErrorCode(err) != CodeProductNotFound {
		t.Fatalf("restock unknown: %v", err)
	}
	if _, err := s.Level(ctx, prod, ""); acme.ErrorCode(err) != CodeProductNotFound {
		t.Fatalf("level unknown: %v", err)
	}
	createProduct(t, h, prod, 7)
	createProduct(t, h, other, 0)
	if l, err := s.Level(ctx, prod, ""); err != nil || l != (Level{ProductID: prod, OnHand: 7, Available: 7}) {
		t.Fatalf("initial stock: %+v %v", l, err)
	}
	if l, err := s.Level(ctx, other, ""); err != nil || l != (Level{ProductID: other}) {
		t.Fatalf("no initial stock: %+v %v", l, err)
	}
	l, pos, err := s.Restock(ctx, prod, "", 3)
	if err != nil || l.OnHand != 10 || l.Available != 10 || pos == 0 {
		t.Fatalf("restock: %+v %d %v", l, pos, err)
	}
	if _, _, err := s.Restock(ctx, prod, "", 0); acme.ErrorCode(err) != CodeInvalidQuantity {
		t.Fatalf("restock 0: %v", err)
	}

	// Variants: restock per variant; the product level sums them.
	v1, v2 := acme.NewID(), acme.NewID()
	if err := h.deliver(t, "ProductVariantAdded", acme.NewID(), map[string]any{"productId": other, "variantId": v1, "initialStock": 2}); err != nil {
		t.Fatal(err)
	}
	if err := h.deliver(t, "ProductVariantAdded", acme.NewID(), map[string]any{"productId": other, "variantId": v2}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Restock(ctx, other, "", 1); acme.ErrorCode(err) != CodeVariantRequired {
		t.Fatalf("restock without variant: %v", err)
	}
	if _, _, err := s.Restock(ctx, other, acme.NewID(), 1); acme.ErrorCode(err) != CodeProductNotFound {
		t.Fatalf("restock unknown variant: %v", err)
	}
	if l, _, err := s.Restock(ctx, other, v2, 4); err != nil || l != (Level{ProductID: other, VariantID: v2, OnHand: 4, Available: 4}) {
		t.Fatalf("restock variant: %+v %v", l, err)
	}
	if l, err := s.Level(ctx, other, v1); err != nil || l.OnHand != 2 {
		t.Fatalf("variant level: %+v %v", l, err)
	}
	if l, err := s.Level(ctx, other, ""); err != nil || l.OnHand != 6 || l.Available != 6 {
		t.Fatalf("sum level: %+v %v", l, err)
	}
	if _, err := s.Level(ctx, other, acme.NewID()); acme.ErrorCode(err) != CodeProductNotFound {
		t.Fatalf("unknown variant level: %v", err)
	}

	// A deactivated product cannot be restocked; its level still reads.
	if err := h.deliver(t, "ProductDeactivated", acme.NewID(), map[string]any{"productId": prod}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Restock(ctx, prod, "", 1); acme.ErrorCode(err) != CodeProductNotFound {
		t.Fatalf("restock inactive: %v", err)
	}
	if _, err := s.Level(ctx, prod, ""); err != nil {
		t.Fatal(err)
	}
}

// The oversell test: 40 concurrent checkouts race for 10 units.
func TestReserveNeverOversells(t *testing.T) {
	m, h, _ := startTest(t)
	s := m.Service()
	prod := acme.NewID()
	createProduct(t, h, prod, 10)

	var wg sync.WaitGroup
	var reserved, refused atomic.Int32
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Reserve(context.Background(), ReserveCmd{CheckoutID: acme.NewID(), Items: []Line{{ProductID: prod, Quantity: 1}}})
			if err != nil {
				errs <- err
				return
			}
			switch r.Status {
			case StatusReserved:
				reserved.Add(1)
			case StatusUnavailable:
				refused.Add(1)
			default:
				errs <- fmt.Errorf("status %q", r.Status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if reserved.Load() != 10 || refused.Load() != 30 {
		t.Fatalf("reserved %d, refused %d; want 10 and 30", reserved.Load(), refused.Load())
	}
	l, err := s.Level(context.Background(), prod, "")
	if err != nil || l != (Level{ProductID: prod, OnHand: 10, Reserved: 10, Available: 0}) {
		t.Fatalf("level %+v %v", l, err)
	}
}

// TestReserveRefusesProductLevelStockOfAProductWithVariants: once a product
// has variants its stock is per variant; the units it held before are not
// reserved (the stock read does not count them either).
func TestReserveRefusesProductLevelStockOfAProductWithVariants(t *testing.T) {
	m, h, _ := startTest(t)
	s := m.Service()
	prod, plain := acme.NewID(), acme.NewID()
	createProduct(t, h, prod, 5)
	createProduct(t, h, plain, 5)
	if err := h.deliver(t, "ProductVariantAdded", acme.NewID(), map[string]any{"productId": prod, "variantId": acme.NewID(), "initialStock": 1}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Reserve(context.Background(), ReserveCmd{CheckoutID: acme.NewID(), Items: []Line{{ProductID: plain, Quantity: 1}, {ProductID: prod, Quantity: 2}}})
	if err != nil || r.Status != StatusUnavailable {
		t.Fatalf("reserve: %+v %v", r, err)
	}
	if l, err := s.Level(context.Background(), plain, ""); err != nil || l.Reserved != 0 {
		t.Fatalf("all or none: %+v %v", l, err)
	}
	if r, err := s.Reserve(context.Background(), ReserveCmd{CheckoutID: acme.NewID(), Items: []Line{{ProductID: plain, Quantity: 1}}}); err != nil || r.Status != StatusReserved {
		t.Fatalf("a product without variants: %+v %v", r, err)
	}
}

// Multi-item reservations racing over two items in opposite line orders:
// all-or-none, and the items' reserved counts match the reservations.
func TestReserveAllOrNoneUnderConcurrency(t *testing.T) {
	m, h, _ := startTest(t)
	s := m.Service()
	a, b := acme.NewID(), acme.NewID()
	createProduct(t, h, a, 10)
	createProduct(t, h, b, 6)
	var wg sync.WaitGroup
	var got atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lines := []Line{{ProductID: a, Quantity: 1}, {ProductID: b, Quantity: 1}}
			if i%2 == 1 {
				lines[0], lines[1] = lines[1], lines[0]
			}
			r, err := s.Reserve(context.Background(), ReserveCmd{CheckoutID: acme.NewID(), Items: lines})
			if err != nil {
				t.Error(err)
				return
			}
			if r.Status == StatusReserved {
				got.Add(1)
			}
		}(i)
	}
	wg.Wait()
	la, _ := s.Level(context.Background(), a, "")
	lb, _ := s.Level(context.Background(), b, "")
	if got.Load() != 6 || la.Reserved != 6 || lb.Reserved != 6 || lb.Available != 0 || la.Available != 4 {
		t.Fatalf("reservations %d, a %+v, b %+v", got.Load(), la, lb)
	}
}

func TestReservationLifecycle(t *testing.T) {
	m, h, clock := startTest(t)
	s := m.Service()
	ctx := context.Background()
	a, b := acme.NewID(), acme.NewID()
	createProduct(t, h, a, 5)
	createProduct(t, h, b, 1)
	level := func(p string) Level {
		t.Helper()
		l, err := s.Level(ctx, p, "")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// Through the bus: reserve, deliver twice (inbox), and a second command for the same checkout.
	c1 := acme.NewID()
	reserve := map[string]any{"checkoutId": c1, "items": []map[string]any{{"productId": a, "variantId": "", "quantity": 2}, {"productId": b, "variantId": "", "quantity": 1}},
		"expiresAt": clock.Now().Add(time.Minute).Format(time.RFC3339)}
	msgID := acme.NewID()
	for _, id := range []string{msgID, msgID, acme.NewID()} {
		if err := h.deliver(t, "ReserveInventory", id, reserve); err != nil {
			t.Fatal(err)
		}
	}
	if l := level(a); l.Reserved != 2 || l.Available != 3 {
		t.Fatalf("a after reserve: %+v", l)
	}
	if l := level(b); l.Available != 0 {
		t.Fatalf("b after reserve: %+v", l)
	}
	evs, _ := h.Store().ReadStream(ctx, ReservationStreamID(c1), es.StreamQuery{})
	if len(evs) != 1 || evs[0].Type != "InventoryReserved" {
		t.Fatalf("reservation stream: %+v", evs)
	}
	bevs, _ := h.Store().ReadStream(ctx, StockStreamID(b, ""), es.StreamQuery{})
	if len(bevs) != 3 || bevs[2].Type != "OutOfStock" {
		t.Fatalf("b stream: %v", typesOf(bevs))
	}

	// A second checkout cannot get b: unavailable, nothing held of a.
	c2 := acme.NewID()
	r, err := s.Reserve(ctx, ReserveCmd{CheckoutID: c2, Items: []Line{{ProductID: a, Quantity: 1}, {ProductID: b, Quantity: 1}}})
	if err != nil || r.Status != StatusUnavailable || level(a).Reserved != 2 {
		t.Fatalf("second reserve: %+v %v, a %+v", r, err, level(a))
	}

	// Expiry: not yet, then after expiresAt.
	if n, err := s.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("early expiry: %d %v", n, err)
	}
	clock.add(2 * time.Minute)
	if n, err := s.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("expiry: %d %v", n, err)
	}
	if n, err := s.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("second expiry: %d %v", n, err)
	}
	if l := level(a); l.Reserved != 0 || l.Available != 5 {
		t.Fatalf("a after expiry: %+v", l)
	}
	if r, _ := s.Reservation(ctx, c1); r.Status != StatusReleased {
		t.Fatalf("status %q", r.Status)
	}
	// Releasing again, or an unknown checkout: no-op.
	if err := h.deliver(t, "ReleaseInventory", acme.NewID(), map[string]any{"checkoutId": c1, "reason": "CHECKOUT_FAILED"}); err != nil {
		t.Fatal(err)
	}
	if err := h.deliver(t, "ReleaseInventory", acme.NewID(), map[string]any{"checkoutId": acme.NewID(), "reason": "CHECKOUT_FAILED"}); err != nil {
		t.Fatal(err)
	}
	if l := level(a); l.Available != 5 {
		t.Fatalf("a after double release: %+v", l)
	}

	// Confirmed orders do not expire; shipping deducts.
	c3 := acme.NewID()
	if r, err := s.Reserve(ctx, ReserveCmd{CheckoutID: c3, Items: []Line{{ProductID: a, Quantity: 2}}, ExpiresAt: clock.Now().Add(time.Minute).Format(time.RFC3339)}); err != nil || r.Status != StatusReserved {
		t.Fatalf("reserve c3: %+v %v", r, err)
	}
	if err := h.deliver(t, "OrderConfirmed", acme.NewID(), map[string]any{"orderId": "o3", "checkoutId": c3}); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Hour)
	if n, err := s.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("committed reservation expired: %d %v", n, err)
	}
	if err := h.deliver(t, "DeductInventory", acme.NewID(), map[string]any{"checkoutId": c3, "orderId": "o3"}); err != nil {
		t.Fatal(err)
	}
	if err := h.deliver(t, "DeductInventory", acme.NewID(), map[string]any{"checkoutId": c3, "orderId": "o3"}); err != nil {
		t.Fatal(err)
	}
	if l := level(a); l != (Level{ProductID: a, OnHand: 3, Reserved: 0, Available: 3}) {
		t.Fatalf("a after deduct: %+v", l)
	}
	// A cancel after shipping changes nothing.
	if err := h.deliver(t, "ReleaseInventory", acme.NewID(), map[string]any{"checkoutId": c3, "reason": "ORDER_CANCELLED"}); err != nil {
		t.Fatal(err)
	}
	if l := level(a); l.OnHand != 3 || l.Available != 3 {
		t.Fatalf("a after late cancel: %+v", l)
	}

	// An invalid command is dead-lettered at once.
	err = h.deliver(t, "ReserveInventory", acme.NewID(), map[string]any{"checkoutId": acme.NewID(), "items": []any{}})
	if !es.IsPermanent(err) {
		t.Fatalf("invalid reserve: %v", err)
	}
}

func typesOf(evs []es.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// Close stops the expiry sweeper promptly and waits for it, the store still open.
func TestCloseStopsSweeper(t *testing.T) {
	if err := New().Close(); err != nil { // never started: nothing to stop
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := es.NewRegistry(messages...)
	if err != nil {
		t.Fatal(err)
	}
	m := New(WithClock(newClock()), WithSweepInterval(time.Millisecond))
	if err := m.Start(context.Background(), estest.NewHost(owner, st, reg)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the sweeper run a few times
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case <-m.done:
	default:
		t.Fatal("the sweeper is still running after Close")
	}
	if _, err := st.StreamVersion(context.Background(), "x"); err != nil {
		t.Fatalf("Close closed the store: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// A batch of commands is one plan and one commit that stores exactly what the
// same commands one commit each store (the same events, streams, versions and
// data, in the same order), on the store as the embedded server opens it
// (stream cache on, one stream appended several times in the commit): each
// command sees the ones before it (a release frees units for the next
// reserve; a reserve, release and deduct of one checkout in one batch), and
// each command's events carry its own correlation and causation.
func TestCommandsBatchIsSequential(t *testing.T) {
	a, b, never := acme.NewID(), acme.NewID(), acme.NewID()
	// The checkout ids sort against the decision order: events grouped by
	// stream would end with stale levels.
	cZ, cY, cX, cW, cV := "co-z", "co-y", "co-x", "co-w", "co-v"
	type step struct {
		typ  string
		data any
	}
	reserve := func(checkoutID string, lines ...Line) step {
		return step{ReserveInventory.Name(), ReserveInventoryV1{CheckoutID: checkoutID, Items: lines}}
	}
	release := func(checkoutID string) step {
		return step{ReleaseInventory.Name(), ReleaseInventoryV1{CheckoutID: checkoutID, Reason: "CHECKOUT_FAILED"}}
	}
	steps := []step{
		reserve(cZ, Line{ProductID: a, Quantity: 2}, Line{ProductID: b, Quantity: 1}),
		reserve(cY, Line{ProductID: a, Quantity: 2}), // 1 left: unavailable
		release(cZ),
		reserve(cX, Line{ProductID: a, Quantity: 3}, Line{ProductID: b, Quantity: 5}), // a sold out
		reserve(cY, Line{ProductID: a, Quantity: 1}),                                  // decided already: no-op
		reserve(cW, Line{ProductID: never, Quantity: 1}),                              // no such stock item
		release(cV), // nothing held yet: no-op
		reserve(cV, Line{ProductID: b, Quantity: 1}),
		{DeductInventory.Name(), DeductInventoryV1{CheckoutID: cX, OrderID: "order-x"}},
	}
	var ms []es.Message
	for i, s := range steps {
		m := estest.Message(t, s.typ, "", s.data)
		m.Metadata.CorrelationID = fmt.Sprintf("corr-%d", i)
		ms = append(ms, m)
	}
	type stored struct {
		StreamID, Type, Data string
		Version              int64
	}
	type outcome struct {
		statuses [5]string
		levels   [2]Level
		log      []stored
	}
	run := func(batch bool) outcome {
		m, h, _ := startTest(t, sqlite.WithExclusive())
		createProduct(t, h, a, 3)
		createProduct(t, h, b, 6)
		ctx := context.Background()
		setup, err := h.Store().Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if batch {
			applyBatch(t, m, h, ms)
		} else {
			for _, msg := range ms {
				if _, err := h.Apply(ctx, msg); err != nil {
					t.Fatal(err)
				}
			}
		}
		var o outcome
		for i, id := range []string{cZ, cY, cX, cW, cV} {
			r, err := m.Service().Reservation(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			o.statuses[i] = r.Status
		}
		for i, p := range []string{a, b} {
			if o.levels[i], err = m.Service().Level(ctx, p, ""); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := h.Store().ReadAll(ctx, setup, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			o.log = append(o.log, stored{e.StreamID, e.Type, string(e.Data), e.Version})
			i := slices.IndexFunc(ms, func(m es.Message) bool { return m.ID == e.Metadata.CausationID })
			if i < 0 || e.Metadata.CorrelationID != ms[i].Metadata.CorrelationID {
				t.Fatalf("batch %v: %s %s has metadata %+v, not its command's", batch, e.StreamID, e.Type, e.Metadata)
			}
		}
		return o
	}
	want := outcome{statuses: [5]string{StatusReleased, StatusUnavailable, StatusDeducted, StatusUnavailable, StatusReserved},
		levels: [2]Level{{ProductID: a}, {ProductID: b, OnHand: 1, Reserved: 1}}}
	one := run(false)
	if one.statuses != want.statuses || one.levels != want.levels || len(one.log) < len(steps) {
		t.Fatalf("one at a time: %+v, want %+v", one, want)
	}
	batched := run(true)
	if batched.statuses != want.statuses || batched.levels != want.levels {
		t.Fatalf("as a batch: %+v, want %+v", batched, want)
	}
	if !slices.Equal(one.log, batched.log) {
		t.Fatalf("the batch stored\n%+v\none at a time\n%+v", batched.log, one.log)
	}

	// An invalid command fails the batch (the platform then applies its
	// commands one at a time): no retry can fix it.
	m, _, _ := startTest(t)
	bad := estest.Message(t, ReserveInventory.Name(), "", ReserveInventoryV1{CheckoutID: "co-bad"})
	if _, err := m.Service().onCommands(context.Background(), []es.Message{ms[0], bad}); !es.IsPermanent(err) {
		t.Fatalf("a batch with an invalid command: %v", err)
	}
}
