package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"acme/es"
	"acme/httpapi"
)

// timeFormat is the fixed-width UTC time of the read model (sorts as text).
const timeFormat = "2006-01-02T15:04:05.000000Z"

// View is a picking job as the contract shows it.
type View struct {
	JobID      string         `json:"jobId"`
	OrderID    string         `json:"orderId"`
	CustomerID string         `json:"customerId,omitempty"`
	Status     string         `json:"status"`
	LineItems  []LineItemView `json:"lineItems"`
	OpenedAt   time.Time      `json:"openedAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	Version    int64          `json:"version"`
}

// LineItemView is a line as the API shows it: variantId is null for a
// product without variants.
type LineItemView struct {
	ProductID string             `json:"productId"`
	VariantID httpapi.OptionalID `json:"variantId"`
	Name      string             `json:"name"`
	Quantity  int64              `json:"quantity"`
}

func lineViews(lines []LineItem) []LineItemView {
	out := make([]LineItemView, 0, len(lines))
	for _, l := range lines {
		out = append(out, LineItemView{ProductID: l.ProductID, VariantID: httpapi.OptionalID(l.VariantID), Name: l.Name, Quantity: l.Quantity})
	}
	return out
}

// ViewOf returns the contract's view of j at version.
func ViewOf(j Job, version int64) View {
	return View{JobID: j.JobID, OrderID: j.OrderID, CustomerID: j.CustomerID, Status: j.Status, LineItems: lineViews(j.LineItems),
		OpenedAt: j.OpenedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(), Version: version}
}

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

// project applies stored job events to warehouse_picking_jobs (inline, in the
// commit's transaction; idempotent).
func (m *Module) project(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, e := range events {
		v, err := m.h.Registry().Decode(e)
		if err != nil {
			return err
		}
		switch v := v.(type) {
		case PickingJobOpenedV1:
			lines, err := json.Marshal(v.LineItems)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO warehouse_picking_jobs
  (job_id, order_id, customer_id, status, line_items, opened_at, updated_at, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id) DO NOTHING`,
				v.JobID, v.OrderID, v.CustomerID, StatusOpen, string(lines), ts(v.OpenedAt), ts(v.OpenedAt), e.Version)
			if err != nil {
				return fmt.Errorf("warehouse: project %s: %w", e.Type, err)
			}
		case OrderPickedV1:
			err = setStatus(ctx, tx, v.JobID, StatusPicked, v.PickedAt, e.Version)
		case OrderPackedV1:
			err = setStatus(ctx, tx, v.JobID, StatusPacked, v.PackedAt, e.Version)
		case OrderReadyForShippingV1:
			// no change of status, but the job's stream moved on: the list
			// shows the version the pack command answered with
			_, err = tx.ExecContext(ctx, `UPDATE warehouse_picking_jobs SET version = $1 WHERE job_id = $2`, e.Version, v.JobID)
		case PickingJobCancelledV1:
			if v.PreviousStatus != "" { // a job never opened (its order cancelled unconfirmed) is not listed
				err = setStatus(ctx, tx, v.JobID, StatusCancelled, v.CancelledAt, e.Version)
			}
		case PickingJobClosedV1:
			if v.PreviousStatus != "" {
				err = setStatus(ctx, tx, v.JobID, StatusShipped, v.ClosedAt, e.Version)
			}
		}
		if err != nil {
			return fmt.Errorf("warehouse: project %s: %w", e.Type, err)
		}
	}
	return nil
}

func setStatus(ctx context.Context, tx es.SQL, jobID, status string, at time.Time, version int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE warehouse_picking_jobs SET status = $1, updated_at = $2, version = $3 WHERE job_id = $4`,
		status, ts(at), version, jobID)
	return err
}

// List returns a page of jobs, newest first, with status
// (or, when status is "", every job that is not cancelled) and the total.
func (m *Module) List(ctx context.Context, status, orderID string, page, size int) ([]View, int, error) {
	where, args := "WHERE status <> $1", []any{StatusCancelled}
	if status != "" {
		where, args = "WHERE status = $1", []any{status}
	}
	if orderID != "" {
		where += " AND order_id = $2"
		args = append(args, orderID)
	}
	db := m.h.Store().DB()
	var total int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM warehouse_picking_jobs "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("warehouse: count jobs: %w", err)
	}
	n := len(args)
	args = append(args, size, (page-1)*size)
	rows, err := db.QueryContext(ctx, `SELECT job_id, order_id, customer_id, status, line_items, opened_at, updated_at, version
FROM warehouse_picking_jobs `+where+fmt.Sprintf(` ORDER BY opened_at DESC, job_id DESC LIMIT $%d OFFSET $%d`, n+1, n+2), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("warehouse: list jobs: %w", err)
	}
	defer rows.Close()
	out := []View{}
	for rows.Next() {
		var v View
		var lines, opened, updated string
		if err := rows.Scan(&v.JobID, &v.OrderID, &v.CustomerID, &v.Status, &lines, &opened, &updated, &v.Version); err != nil {
			return nil, 0, err
		}
		var items []LineItem
		if err := json.Unmarshal([]byte(lines), &items); err != nil {
			return nil, 0, fmt.Errorf("warehouse: decode job row: %w", err)
		}
		v.LineItems = lineViews(items)
		v.OpenedAt, _ = time.Parse(timeFormat, opened)
		v.UpdatedAt, _ = time.Parse(timeFormat, updated)
		out = append(out, v)
	}
	return out, total, rows.Err()
}
