package customers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"acme"
	"acme/es"
)

// timeFormat is the fixed-width RFC 3339 UTC format of every stored time (so that
// text order is time order).
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// View is a customer as the API shows it.
type View struct {
	CustomerID   string    `json:"customerId"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	RegisteredAt time.Time `json:"registeredAt"`
}

// project is the inline read model of customers: it runs in the transaction of
// every append, so reads after a write see it.
func (m *Module) project(ctx context.Context, tx es.SQL, events []es.Event) error {
	for _, e := range events {
		if e.Type != CustomerRegistered.Name() {
			continue
		}
		r, err := CustomerRegistered.Decode(e)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (customer_id, email, email_key, name, status, registered_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, email_key = excluded.email_key,
				name = excluded.name, status = excluded.status, registered_at = excluded.registered_at`,
			r.CustomerID, r.Email, normaliseEmail(r.Email), r.Name, r.Status, formatTime(r.RegisteredAt)); err != nil {
			return fmt.Errorf("project customer: %w", err)
		}
	}
	return nil
}

// customer reads one customer from the read model; not_found when absent.
func (m *Module) customer(ctx context.Context, id string) (View, error) {
	var v View
	var at string
	err := m.store().DB().QueryRowContext(ctx, `SELECT customer_id, email, name, status, registered_at
		FROM customers WHERE customer_id = $1`, id).Scan(&v.CustomerID, &v.Email, &v.Name, &v.Status, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return View{}, acme.Errorf(acme.CodeNotFound, "customer not found")
	}
	if err != nil {
		return View{}, fmt.Errorf("read customer: %w", err)
	}
	v.RegisteredAt = parseTime(at)
	return v, nil
}
