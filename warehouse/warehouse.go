// Package warehouse is the Warehouse System: picking jobs of confirmed orders.
//
// Language: when an order is confirmed (payment captured) a picking job is
// opened with the order's lines (OPEN). A warehouse operator (admin) picks the
// items (PickOrder → OrderPicked, PICKED) and packs the parcel (PackOrder →
// OrderPacked and OrderReadyForShipping, PACKED); ordering records the order as
// ready for shipping. A job is cancelled with its order (CANCELLED). The
// contract lets an admin ship a confirmed order without the warehouse's
// steps: a job not packed when its order ships is closed (SHIPPED), so it
// leaves the pickers' list and refuses pick and pack; a packed one stays
// PACKED.
//
// Invariants: one job per order (its id is derived from the order id, so a
// redelivered OrderConfirmed opens nothing new); OPEN → PICKED → PACKED, any other
// move is invalid_transition; a job cancelled before it was opened (OrderCancelled
// consumed before OrderConfirmed: an order cancelled unconfirmed) stays
// cancelled and is not listed: the warehouse never had it.
//
// Messages in: OrderConfirmed, OrderCancelled, OrderShipped (ordering).
// Messages out: PickingJobOpened, OrderPicked, OrderPacked,
// OrderReadyForShipping, PickingJobCancelled, PickingJobClosed.
//
// Reads: GET /api/v1/warehouse/picking-jobs lists the inline read model
// warehouse_picking_jobs. Without ?status= it lists every job that is not
// cancelled (OPEN, PICKED, PACKED, and SHIPPED: closed unpacked); cancelled
// jobs are listed only with ?status=CANCELLED.
package warehouse

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"acme"
	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// jobNamespace derives a job id from its order id (UUIDv5): one job per order.
var jobNamespace = uuid.MustParse("6f1c2d1e-5b0a-4c53-9a8e-2f4f0d7f3a10")

// JobID returns the id of the picking job of orderID.
func JobID(orderID string) string { return uuid.NewSHA1(jobNamespace, []byte(orderID)).String() }

func streamID(jobID string) string { return "picking-job-" + jobID }

// Module is the warehouse bounded context.
type Module struct {
	clock acme.Clock
	h     es.Host
	jobs  *es.Aggregate[Job, any]
}

// New returns the warehouse context. A nil clock is the system clock.
func New(clock acme.Clock) *Module {
	if clock == nil {
		clock = acme.SystemClock{}
	}
	return &Module{clock: clock}
}

// Name is the context's name.
func (m *Module) Name() string { return owner }

// Messages lists every message warehouse declares.
func (m *Module) Messages() []es.MessageType { return messages() }

// Start applies the migrations and registers the consumer of ordering's events.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	m.h = h
	if err := es.MigrateDir(ctx, h.Store(), owner, migrations, "migrations"); err != nil {
		return fmt.Errorf("warehouse: migrate: %w", err)
	}
	m.jobs = &es.Aggregate[Job, any]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID,
		StreamType: "picking-job", Decider: Decider, Inline: m.project}
	consume(ctx, h, "orders", []string{"OrderConfirmed", "OrderCancelled", "OrderShipped"}, m.onOrder)
	return nil
}

// orderEvent is the part of ordering's OrderConfirmed / OrderCancelled warehouse reads.
type orderEvent struct {
	OrderID    string     `json:"orderId"`
	CustomerID string     `json:"customerId"`
	LineItems  []LineItem `json:"lineItems"`
	Reason     string     `json:"reason"`
}

func (m *Module) onOrder(ctx context.Context, msg es.Message) (es.Commit, error) {
	var o orderEvent
	if err := json.Unmarshal(msg.Data, &o); err != nil {
		return es.Commit{}, es.Permanent(fmt.Errorf("warehouse: decode %s: %w", msg.Type, err))
	}
	if !acme.ValidID(o.OrderID) {
		slog.WarnContext(ctx, "warehouse: order event without a valid orderId", "type", msg.Type, "id", msg.ID)
		return es.Commit{}, nil
	}
	jobID := JobID(o.OrderID)
	now := m.clock.Now().UTC()
	var cmd any
	switch msg.Type {
	case "OrderConfirmed":
		lines := make([]LineItem, 0, len(o.LineItems))
		for _, l := range o.LineItems {
			lines = append(lines, LineItem{ProductID: l.ProductID, VariantID: l.VariantID, Name: l.Name, Quantity: l.Quantity})
		}
		cmd = Open{JobID: jobID, OrderID: o.OrderID, CustomerID: o.CustomerID, LineItems: lines, At: now}
	case "OrderCancelled":
		cmd = Cancel{JobID: jobID, OrderID: o.OrderID, Reason: o.Reason, At: now}
	case "OrderShipped":
		cmd = Close{JobID: jobID, OrderID: o.OrderID, At: now}
	default:
		return es.Commit{}, nil
	}
	app, _, err := m.jobs.Decide(ctx, streamID(jobID), cmd)
	if err != nil || len(app.Events) == 0 {
		return es.Commit{}, err
	}
	return es.Commit{Appends: []es.Append{app}, Apply: m.project}, nil
}

// Execute runs an operator's command on job jobID.
func (m *Module) Execute(ctx context.Context, jobID string, cmd any) (es.Handled[Job], error) {
	if !acme.ValidID(jobID) {
		return es.Handled[Job]{}, acme.Errorf(acme.CodeNotFound, "picking job not found")
	}
	return m.jobs.Handle(ctx, streamID(jobID), cmd)
}

// consume registers a consumer of the given types that are declared in this
// build (a context that is not part of it publishes nothing to wait for).
func consume(ctx context.Context, h es.Host, name string, types []string, hd es.Handler) {
	var known []string
	for _, t := range types {
		if _, ok := h.Registry().Lookup(t); ok {
			known = append(known, t)
		} else {
			slog.WarnContext(ctx, "not consuming a message no context of this build declares", "context", h.Name(), "consumer", name, "type", t)
		}
	}
	if len(known) > 0 {
		h.Consume(name, known, hd)
	}
}
