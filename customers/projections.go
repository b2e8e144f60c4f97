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
		switch e.Type {
		case CustomerRegistered.Name():
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
			if err := projectToken(ctx, tx, r.CustomerID, r.VerificationToken); err != nil {
				return err
			}
		case VerificationEmailRequested.Name():
			v, err := VerificationEmailRequested.Decode(e)
			if err != nil {
				return err
			}
			// the new link replaces the previous ones
			if _, err := tx.ExecContext(ctx, `DELETE FROM customer_email_tokens WHERE customer_id = $1`, v.CustomerID); err != nil {
				return fmt.Errorf("project verification request: %w", err)
			}
			if err := projectToken(ctx, tx, v.CustomerID, v.VerificationToken); err != nil {
				return err
			}
		case CustomerEmailVerified.Name():
			v, err := CustomerEmailVerified.Decode(e)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE customers SET status = $2 WHERE customer_id = $1`, v.CustomerID, v.Status); err != nil {
				return fmt.Errorf("project email verified: %w", err)
			}
		}
	}
	return nil
}

// projectToken records the hash of a verification token, to find the
// customer when the link is followed.
func projectToken(ctx context.Context, tx es.SQL, customerID, token string) error {
	if token == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO customer_email_tokens (token_hash, customer_id) VALUES ($1, $2)
		ON CONFLICT (token_hash) DO NOTHING`, tokenHash(token), customerID); err != nil {
		return fmt.Errorf("project verification token: %w", err)
	}
	return nil
}

// backfillTokens adds the verification tokens of customers registered before
// customer_email_tokens existed, from their CustomerRegistered and
// VerificationEmailRequested events (the latest token of each). It reads the
// log only when some customer has no token row.
func (m *Module) backfillTokens(ctx context.Context) error {
	db := m.store().DB()
	var missing bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM customers c
		WHERE NOT EXISTS (SELECT 1 FROM customer_email_tokens t WHERE t.customer_id = c.customer_id))`).Scan(&missing); err != nil {
		return fmt.Errorf("customers: find missing verification tokens: %w", err)
	}
	if !missing {
		return nil
	}
	latest := map[string]string{} // customer → their latest token (a new link replaces the previous ones)
	var order []string
	for after := int64(0); ; {
		events, err := m.store().ReadAll(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("customers: read the log: %w", err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			var id, token string
			switch e.Type {
			case CustomerRegistered.Name():
				r, err := CustomerRegistered.Decode(e)
				if err != nil {
					return err
				}
				id, token = r.CustomerID, r.VerificationToken
			case VerificationEmailRequested.Name():
				v, err := VerificationEmailRequested.Decode(e)
				if err != nil {
					return err
				}
				id, token = v.CustomerID, v.VerificationToken
			default:
				continue
			}
			if _, seen := latest[id]; !seen {
				order = append(order, id)
			}
			latest[id] = token
		}
		after = events[len(events)-1].Position
	}
	_, err := m.store().Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		for _, id := range order {
			if err := projectToken(ctx, tx, id, latest[id]); err != nil {
				return err
			}
		}
		return nil
	}})
	return err
}

// customerByToken returns the customer whose verification token is token;
// not_found when none is.
func (m *Module) customerByToken(ctx context.Context, token string) (string, error) {
	var id string
	err := m.store().DB().QueryRowContext(ctx, `SELECT customer_id FROM customer_email_tokens WHERE token_hash = $1`,
		tokenHash(token)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", acme.Errorf(acme.CodeNotFound, "no customer has this verification token")
	}
	if err != nil {
		return "", fmt.Errorf("read verification token: %w", err)
	}
	return id, nil
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
