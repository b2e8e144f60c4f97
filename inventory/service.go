package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"acme"
	"acme/es"
)

// TimeFormat is the fixed-width RFC 3339 UTC format of every time inventory
// writes (events and read models), so times compare as text.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Service is inventory's use cases over its store.
type Service struct {
	store      es.Store
	reg        *es.Registry
	newID      func() string
	clock      acme.Clock
	ttl        time.Duration // reservation lifetime when ReserveInventory has no expiresAt
	stock      *es.Aggregate[StockItem, StockCommand]
	resv       *es.Aggregate[Reservation, any]
	maxRetries int
}

func newService(store es.Store, reg *es.Registry, newID func() string, clock acme.Clock, ttl time.Duration) *Service {
	s := &Service{store: store, reg: reg, newID: newID, clock: clock, ttl: ttl, maxRetries: 500}
	s.stock = &es.Aggregate[StockItem, StockCommand]{Store: store, Registry: reg, NewID: newID, StreamType: "stock",
		Decider: StockDecider, SnapshotEvery: 100, SnapshotVersion: 1, Inline: s.apply,
		// a stock item's holds grow with the orders not yet shipped: decoding
		// them from a snapshot on every reservation made checkouts slower
		// the longer the platform ran
		CacheStates: 4096}
	s.resv = &es.Aggregate[Reservation, any]{Store: store, Registry: reg, NewID: newID, StreamType: "reservation",
		Decider: es.Decider[Reservation, any]{Evolve: evolveReservation}}
	return s
}

// Restock adds units to a stock item of a known, active product. A product
// with variants is restocked per variant (variant_required without one).
func (s *Service) Restock(ctx context.Context, productID, variantID string, quantity int64) (Level, int64, error) {
	p, err := s.product(ctx, productID)
	if err != nil {
		return Level{}, 0, err
	}
	if !p.active {
		return Level{}, 0, acme.Errorf(CodeProductNotFound, "product %s is not active", productID)
	}
	if variantID == "" && p.hasVariants {
		return Level{}, 0, acme.Errorf(CodeVariantRequired, "product %s has variants: restock one of them (variantId)", productID)
	}
	if variantID != "" {
		if ok, err := s.variantExists(ctx, productID, variantID); err != nil {
			return Level{}, 0, err
		} else if !ok {
			return Level{}, 0, acme.Errorf(CodeProductNotFound, "product %s has no variant %s", productID, variantID)
		}
	}
	h, err := s.stock.Handle(ctx, StockStreamID(productID, variantID),
		Restock{ProductID: productID, VariantID: variantID, Quantity: quantity, At: ts(s.clock.Now())})
	if err != nil {
		return Level{}, 0, err
	}
	return h.State.Level(), h.Position, nil
}

// Level returns the stock level of a product (variantID "") or of one of its
// variants. For a product with variants and no variantID it is the sum over
// the product's stock items (variantId "").
func (s *Service) Level(ctx context.Context, productID, variantID string) (Level, error) {
	p, err := s.product(ctx, productID)
	if err != nil {
		return Level{}, err
	}
	if variantID != "" {
		if ok, err := s.variantExists(ctx, productID, variantID); err != nil {
			return Level{}, err
		} else if !ok {
			return Level{}, acme.Errorf(CodeProductNotFound, "product %s has no variant %s", productID, variantID)
		}
	}
	q := `SELECT COALESCE(SUM(on_hand), 0), COALESCE(SUM(reserved), 0), COALESCE(SUM(available), 0)
		FROM inventory_levels WHERE product_id = $1 AND variant_id = $2`
	args := []any{productID, variantID}
	if variantID == "" && p.hasVariants {
		// The sum of its variants: stock is per variant for a product that has
		// them (what the product held before its first variant cannot be
		// sold, restocked or reserved, so it is not counted).
		q = `SELECT COALESCE(SUM(on_hand), 0), COALESCE(SUM(reserved), 0), COALESCE(SUM(available), 0)
			FROM inventory_levels WHERE product_id = $1 AND variant_id <> ''`
		args = args[:1]
	}
	l := Level{ProductID: productID, VariantID: variantID}
	if err := s.store.DB().QueryRowContext(ctx, q, args...).Scan(&l.OnHand, &l.Reserved, &l.Available); err != nil {
		return Level{}, fmt.Errorf("inventory: read level: %w", err)
	}
	return l, nil
}

// Reserve holds every line for a checkout or none, committing the
// reservation and its stock items atomically (retrying lost races). It
// returns the reservation as it stands after the command.
func (s *Service) Reserve(ctx context.Context, cmd ReserveCmd) (Reservation, error) {
	if _, err := s.commitLoop(ctx, func() (es.Commit, error) { return s.PlanReserve(ctx, cmd) }); err != nil {
		return Reservation{}, err
	}
	r, err := s.resv.Load(ctx, ReservationStreamID(cmd.CheckoutID), es.StreamQuery{})
	return r.State, err
}

// Release gives a checkout's held units back (idempotent).
func (s *Service) Release(ctx context.Context, cmd ReleaseCmd) (es.Result, error) {
	return s.commitLoop(ctx, func() (es.Commit, error) { return s.PlanRelease(ctx, cmd) })
}

// Deduct ships a checkout's held units (idempotent).
func (s *Service) Deduct(ctx context.Context, cmd DeductCmd) (es.Result, error) {
	return s.commitLoop(ctx, func() (es.Commit, error) { return s.PlanDeduct(ctx, cmd) })
}

// Reservation returns a checkout's reservation.
func (s *Service) Reservation(ctx context.Context, checkoutID string) (Reservation, error) {
	r, err := s.resv.Load(ctx, ReservationStreamID(checkoutID), es.StreamQuery{})
	return r.State, err
}

// commitLoop stores the plan's commit, planning again after a lost race.
func (s *Service) commitLoop(ctx context.Context, plan func() (es.Commit, error)) (es.Result, error) {
	for attempt := 0; ; attempt++ {
		c, err := plan()
		if err != nil || len(c.Appends) == 0 {
			return es.Result{}, err
		}
		res, err := s.store.Commit(ctx, c)
		if !errors.Is(err, es.ErrConcurrency) || attempt >= s.maxRetries {
			return res, err
		}
		// Jittered backoff so that racing reservations of one item spread out.
		d := time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(200*time.Microsecond)))
		select {
		case <-ctx.Done():
			return es.Result{}, ctx.Err()
		case <-time.After(d):
		}
	}
}

// PlanReserve loads the reservation and its stock items and returns the
// Commit that decides ReserveInventory: every append carries the version it
// read, so a concurrent change of any item makes the whole commit fail with
// ErrConcurrency (and nothing is stored). Consumers return it to the host.
func (s *Service) PlanReserve(ctx context.Context, cmd ReserveCmd) (es.Commit, error) {
	return s.planOne(ctx, func(p *plan) error { return p.reserve(ctx, cmd) })
}

// PlanRelease is PlanReserve for ReleaseInventory.
func (s *Service) PlanRelease(ctx context.Context, cmd ReleaseCmd) (es.Commit, error) {
	return s.planOne(ctx, func(p *plan) error { return p.release(ctx, cmd) })
}

// PlanDeduct is PlanReserve for DeductInventory.
func (s *Service) PlanDeduct(ctx context.Context, cmd DeductCmd) (es.Commit, error) {
	return s.planOne(ctx, func(p *plan) error { return p.deduct(ctx, cmd) })
}

// PlanCommit marks a reservation committed (OrderConfirmed).
func (s *Service) PlanCommit(ctx context.Context, cmd CommitCmd) (es.Commit, error) {
	return s.planOne(ctx, func(p *plan) error { return p.commitReservation(ctx, cmd) })
}

func (s *Service) planOne(ctx context.Context, decide func(*plan) error) (es.Commit, error) {
	p := s.newPlan()
	if err := decide(p); err != nil {
		return es.Commit{}, err
	}
	return p.commit(), nil
}

// plan is the unit of work of one or more reservation commands: the stock
// items and reservations they read (as loaded, then as the decisions so far
// left them) and the appends decided, in decision order. Commands planned one
// after the other see each other's effects, so a batch of them is one commit
// that stores exactly what the same commands would one commit each, in the
// same order (a reader of the log sees every level in its turn).
type plan struct {
	s       *Service
	stock   map[string]*planned[StockItem]
	resv    map[string]*planned[Reservation]
	appends []es.Append
}

// planned is one stream of a plan: its state and version after the decisions
// so far (the next append's expected version).
type planned[S any] struct {
	id      string // the stream's
	state   S
	version int64
}

func (s *Service) newPlan() *plan {
	return &plan{s: s, stock: map[string]*planned[StockItem]{}, resv: map[string]*planned[Reservation]{}}
}

func (p *plan) reservation(ctx context.Context, checkoutID string) (*planned[Reservation], error) {
	id := ReservationStreamID(checkoutID)
	if r, ok := p.resv[id]; ok {
		return r, nil
	}
	l, err := p.s.resv.Load(ctx, id, es.StreamQuery{})
	if err != nil {
		return nil, err
	}
	r := &planned[Reservation]{id: id, state: l.State, version: l.Version}
	p.resv[id] = r
	return r, nil
}

// items returns the states of the stock items of lines, by stream id.
func (p *plan) items(ctx context.Context, lines []Line) (map[string]StockItem, error) {
	out := make(map[string]StockItem, len(lines))
	for _, l := range lines {
		id := StockStreamID(l.ProductID, l.VariantID)
		st, ok := p.stock[id]
		if !ok {
			loaded, err := p.s.stock.Load(ctx, id, es.StreamQuery{})
			if err != nil {
				return nil, err
			}
			loaded.State.ProductID, loaded.State.VariantID = l.ProductID, l.VariantID
			st = &planned[StockItem]{id: id, state: loaded.State, version: loaded.Version}
			p.stock[id] = st
		}
		out[id] = st.state
	}
	return out, nil
}

func (p *plan) reserve(ctx context.Context, cmd ReserveCmd) error {
	now := p.s.clock.Now()
	if cmd.At == "" {
		cmd.At = ts(now)
	}
	if cmd.ExpiresAt == "" {
		cmd.ExpiresAt = ts(now.Add(p.s.ttl))
	} else if t, err := time.Parse(time.RFC3339Nano, cmd.ExpiresAt); err != nil {
		return acme.Invalid(acme.FieldError{Field: "expiresAt", Message: "must be an RFC 3339 time"})
	} else {
		cmd.ExpiresAt = ts(t)
	}
	if err := ValidateReserve(cmd); err != nil {
		return err
	}
	r, err := p.reservation(ctx, cmd.CheckoutID)
	if err != nil || r.state.Status != "" {
		return err
	}
	lines := NormalizeLines(cmd.Items)
	stock, err := p.items(ctx, lines)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if l.VariantID != "" {
			continue
		}
		// A product with variants keeps its stock per variant: what it held
		// before its first variant is not sold (a cart line from before
		// then is refused at checkout; this covers one checked out as the
		// variant came).
		if pr, err := p.s.product(ctx, l.ProductID); err == nil && pr.hasVariants {
			stock[StockStreamID(l.ProductID, "")] = StockItem{}
		} else if err != nil && acme.ErrorCode(err) != CodeProductNotFound {
			return err
		}
	}
	d, err := DecideReserve(r.state, stock, cmd)
	if err != nil {
		return err
	}
	return p.record(ctx, r, d)
}

func (p *plan) release(ctx context.Context, cmd ReleaseCmd) error {
	if cmd.At == "" {
		cmd.At = ts(p.s.clock.Now())
	}
	return p.onHeld(ctx, cmd.CheckoutID, func(r Reservation, stock map[string]StockItem) (Decision, error) {
		return DecideRelease(r, stock, cmd)
	})
}

func (p *plan) deduct(ctx context.Context, cmd DeductCmd) error {
	if cmd.At == "" {
		cmd.At = ts(p.s.clock.Now())
	}
	return p.onHeld(ctx, cmd.CheckoutID, func(r Reservation, stock map[string]StockItem) (Decision, error) {
		return DecideDeduct(r, stock, cmd)
	})
}

func (p *plan) commitReservation(ctx context.Context, cmd CommitCmd) error {
	if cmd.At == "" {
		cmd.At = ts(p.s.clock.Now())
	}
	r, err := p.reservation(ctx, cmd.CheckoutID)
	if err != nil {
		return err
	}
	return p.record(ctx, r, Decision{Reservation: DecideCommit(r.state, cmd)})
}

// onHeld decides over a checkout's reservation and the stock items it holds
// (release or deduct).
func (p *plan) onHeld(ctx context.Context, checkoutID string, decide func(Reservation, map[string]StockItem) (Decision, error)) error {
	r, err := p.reservation(ctx, checkoutID)
	if err != nil {
		return err
	}
	stock, err := p.items(ctx, r.state.Items)
	if err != nil {
		return err
	}
	d, err := decide(r.state, stock)
	if err != nil {
		return err
	}
	return p.record(ctx, r, d)
}

// record appends a Decision's events (with ctx's metadata): its stock items
// first, in stream id order, then the reservation; and moves the plan's states
// past them.
func (p *plan) record(ctx context.Context, r *planned[Reservation], d Decision) error {
	if len(d.Reservation) == 0 {
		return nil
	}
	md := es.MetadataFrom(ctx)
	for _, id := range slices.Sorted(maps.Keys(d.Stock)) {
		st := p.stock[id] // loaded by items: every decided item was read
		app := es.Append{StreamID: st.id, StreamType: "stock", Expected: st.version}
		for _, v := range d.Stock[id] {
			e, err := p.s.reg.Encode(p.s.newID(), v, md)
			if err != nil {
				return err
			}
			app.Events = append(app.Events, e)
			st.state = evolveStock(st.state, v)
		}
		st.version += int64(len(app.Events))
		p.appends = append(p.appends, app)
	}
	app := es.Append{StreamID: r.id, StreamType: "reservation", Expected: r.version}
	for _, v := range d.Reservation {
		e, err := p.s.reg.Encode(p.s.newID(), v, md)
		if err != nil {
			return err
		}
		app.Events = append(app.Events, e)
		r.state = evolveReservation(r.state, v)
	}
	r.version += int64(len(app.Events))
	p.appends = append(p.appends, app)
	return nil
}

// commit is the plan as one Commit, each append expecting the version the
// decisions before it left (a change by anyone else fails it whole).
func (p *plan) commit() es.Commit {
	if len(p.appends) == 0 {
		return es.Commit{}
	}
	return es.Commit{Appends: p.appends, Apply: p.s.apply}
}

// ExpireDue releases (reason EXPIRED) every live, uncommitted reservation whose
// expiresAt has passed; it returns how many it released.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	rows, err := s.store.DB().QueryContext(ctx, `SELECT checkout_id FROM inventory_reservations
		WHERE status = $1 AND expires_at <= $2 ORDER BY expires_at LIMIT 500`, StatusReserved, ts(s.clock.Now()))
	if err != nil {
		return 0, fmt.Errorf("inventory: due reservations: %w", err)
	}
	var due []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range due {
		res, err := s.Release(ctx, ReleaseCmd{CheckoutID: id, Reason: ReasonExpired})
		if err != nil {
			return n, err
		}
		if len(res.Events) > 0 {
			n++
		}
	}
	return n, nil
}

type productRow struct{ active, hasVariants bool }

func (s *Service) product(ctx context.Context, productID string) (productRow, error) {
	var p productRow
	err := s.store.DB().QueryRowContext(ctx, `SELECT active, has_variants FROM inventory_products WHERE product_id = $1`, productID).
		Scan(&p.active, &p.hasVariants)
	if errors.Is(err, sql.ErrNoRows) {
		return p, acme.Errorf(CodeProductNotFound, "product %s not found", productID)
	}
	if err != nil {
		return p, fmt.Errorf("inventory: read product: %w", err)
	}
	return p, nil
}

func (s *Service) variantExists(ctx context.Context, productID, variantID string) (bool, error) {
	var n int
	err := s.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM inventory_variants WHERE product_id = $1 AND variant_id = $2`,
		productID, variantID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("inventory: read variant: %w", err)
	}
	return n > 0, nil
}
