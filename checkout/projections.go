package checkout

import (
	"context"
	"fmt"
	"time"

	"acme/es"
)

// timeFormat is the fixed-width UTC time of the read model (sorts as text).
const timeFormat = "2006-01-02T15:04:05.000000Z"

// SagaView is one saga as GET /api/v1/admin/sagas shows it.
type SagaView struct {
	CheckoutID    string     `json:"checkoutId"`
	CustomerID    string     `json:"customerId"`
	Status        string     `json:"status"`   // RUNNING | COMPLETED | FAILED
	State         string     `json:"state"`    // the same as status: the contract speaks of a saga's "state"
	Step          string     `json:"step"`     // the current step, or the last one of an ended saga
	Deadline      *time.Time `json:"deadline"` // the current step's deadline; null once ended
	OrderID       string     `json:"orderId,omitempty"`
	FailureReason string     `json:"failureReason,omitempty"`
	StartedAt     time.Time  `json:"startedAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	Version       int64      `json:"version"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// upsertSaga writes the saga's row of the inline read model checkout_sagas.
func upsertSaga(ctx context.Context, tx es.SQL, s Saga, version int64) error {
	orderID := ""
	if s.OrderCreated {
		orderID = s.OrderID
	}
	deadline := ""
	if s.Status == StatusRunning {
		deadline = formatTime(s.Deadline)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO checkout_sagas
  (checkout_id, customer_id, status, step, deadline, order_id, failure_reason, started_at, updated_at, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (checkout_id) DO UPDATE SET status = excluded.status, step = excluded.step, deadline = excluded.deadline,
  order_id = excluded.order_id, failure_reason = excluded.failure_reason, updated_at = excluded.updated_at,
  version = excluded.version`,
		s.CheckoutID, s.CustomerID, s.Status, s.Step, deadline, orderID, s.FailureReason,
		formatTime(s.StartedAt), formatTime(s.UpdatedAt), version)
	if err != nil {
		return fmt.Errorf("checkout: upsert saga %s: %w", s.CheckoutID, err)
	}
	return nil
}

// pendingDeadlines returns up to limit running sagas whose deadline is at or
// before now, and the earliest deadline after now (zero if none).
func pendingDeadlines(ctx context.Context, db es.SQL, now time.Time, limit int) ([]string, time.Time, error) {
	n := formatTime(now)
	rows, err := db.QueryContext(ctx, `SELECT checkout_id FROM checkout_sagas
WHERE status = $1 AND deadline <> '' AND deadline <= $2 ORDER BY deadline LIMIT $3`, StatusRunning, n, limit)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("checkout: due deadlines: %w", err)
	}
	var due []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, time.Time{}, err
		}
		due = append(due, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, err
	}
	var next string
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MIN(deadline), '') FROM checkout_sagas WHERE status = $1 AND deadline > $2`,
		StatusRunning, n).Scan(&next)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("checkout: next deadline: %w", err)
	}
	var t time.Time
	if next != "" {
		if t, err = time.Parse(timeFormat, next); err != nil {
			return nil, time.Time{}, err
		}
	}
	return due, t, nil
}

// ListSagas returns a page of sagas (newest first) with status (or all) and the total.
func (m *Module) ListSagas(ctx context.Context, status string, page, size int) ([]SagaView, int, error) {
	where, args := "", []any{}
	if status != "" {
		where, args = "WHERE status = $1", append(args, status)
	}
	db := m.h.Store().DB()
	var total int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM checkout_sagas "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("checkout: count sagas: %w", err)
	}
	args = append(args, size, (page-1)*size)
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT checkout_id, customer_id, status, step, deadline, order_id,
  failure_reason, started_at, updated_at, version FROM checkout_sagas %s
ORDER BY started_at DESC, checkout_id DESC LIMIT $%d OFFSET $%d`, where, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("checkout: list sagas: %w", err)
	}
	defer rows.Close()
	out := []SagaView{}
	for rows.Next() {
		var v SagaView
		var deadline, started, updated string
		if err := rows.Scan(&v.CheckoutID, &v.CustomerID, &v.Status, &v.Step, &deadline, &v.OrderID,
			&v.FailureReason, &started, &updated, &v.Version); err != nil {
			return nil, 0, err
		}
		v.State = v.Status
		if deadline != "" {
			t, err := time.Parse(timeFormat, deadline)
			if err != nil {
				return nil, 0, err
			}
			v.Deadline = &t
		}
		v.StartedAt, _ = time.Parse(timeFormat, started)
		v.UpdatedAt, _ = time.Parse(timeFormat, updated)
		out = append(out, v)
	}
	return out, total, rows.Err()
}
