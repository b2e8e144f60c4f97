package customers

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"acme"
	"acme/es"
)

func customerStream(id string) string { return "customer-" + id }

func emailStream(email string) string {
	sum := sha256.Sum256([]byte(normaliseEmail(email)))
	return "email-" + hex.EncodeToString(sum[:])
}

// Registered is the outcome of Register.
type Registered struct {
	Customer View
	Position int64 // the store's log position after the commit
}

// Register registers a customer: validate (decide), claim the email, hash the
// password, and commit the customer's event, the reservation and the credentials
// in one transaction.
func (m *Module) Register(ctx context.Context, req RegisterCustomerV1) (Registered, error) {
	if m.h == nil {
		return Registered{}, errNotStarted
	}
	cmd := registerCustomer{CustomerID: m.h.NewID(), Email: strings.TrimSpace(req.Email), Name: strings.TrimSpace(req.Name),
		Password: req.Password, At: m.clock.Now().UTC().Truncate(time.Microsecond), VerificationToken: randomToken(32)}
	var hash string
	for attempt := 0; ; attempt++ {
		custApp, _, err := m.customers.Decide(ctx, customerStream(cmd.CustomerID), cmd)
		if err != nil {
			return Registered{}, err
		}
		emailApp, _, err := m.emails.Decide(ctx, emailStream(cmd.Email), reserveEmail{CustomerID: cmd.CustomerID})
		if err != nil {
			return Registered{}, err
		}
		if hash == "" {
			if hash, err = m.hasher.hash(cmd.Password); err != nil {
				return Registered{}, err
			}
		}
		res, err := m.store().Commit(ctx, es.Commit{
			Appends: []es.Append{custApp, emailApp},
			Apply: func(ctx context.Context, tx es.SQL, events []es.Event) error {
				if err := m.project(ctx, tx, events); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO customer_credentials (customer_id, email_key, password_hash, updated_at)
					VALUES ($1, $2, $3, $4)`, cmd.CustomerID, normaliseEmail(cmd.Email), hash, formatTime(cmd.At))
				return err
			},
		})
		if errors.Is(err, es.ErrConcurrency) && attempt < 3 {
			continue // the reservation stream was claimed meanwhile: decide again (→ email_taken)
		}
		if err != nil {
			return Registered{}, fmt.Errorf("register customer: %w", err)
		}
		return Registered{Position: res.Position, Customer: View{CustomerID: cmd.CustomerID, Email: cmd.Email,
			Name: cmd.Name, Status: StatusRegistered, RegisteredAt: cmd.At}}, nil
	}
}

// Verified is the outcome of VerifyEmail.
type Verified struct {
	Customer View
	Position int64 // the store's log position after the commit (the head when nothing changed)
}

// VerifyEmail verifies the email address of the customer whose verification
// link carries token: status REGISTERED → ACTIVE. Following the link again
// changes nothing and answers the same. An empty token is validation_failed;
// an unknown one not_found.
func (m *Module) VerifyEmail(ctx context.Context, token string) (Verified, error) {
	if m.h == nil {
		return Verified{}, errNotStarted
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return Verified{}, acme.Invalid(acme.FieldError{Field: "token", Message: "the token of the verification link is required"})
	}
	if len(token) > 200 || !utf8.ValidString(token) || acme.HasControl(token) {
		return Verified{}, acme.Errorf(acme.CodeNotFound, "no customer has this verification token")
	}
	id, err := m.customerByToken(ctx, token)
	if err != nil {
		return Verified{}, err
	}
	h, err := m.customers.Handle(ctx, customerStream(id), verifyEmail{At: m.clock.Now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		return Verified{}, err
	}
	pos := h.Position
	if len(h.Events) == 0 {
		if pos, err = m.store().Head(ctx); err != nil {
			return Verified{}, err
		}
	}
	c := h.State
	return Verified{Position: pos, Customer: View{CustomerID: c.ID, Email: c.Email, Name: c.Name, Status: c.Status,
		RegisteredAt: c.RegisteredAt}}, nil
}

// RequestVerification issues a new verification link for a customer not yet
// verified: VerificationEmailRequested, whose token replaces the previous ones
// (notifications emails it). 409 already_verified once verified.
func (m *Module) RequestVerification(ctx context.Context, customerID string) (Verified, error) {
	if m.h == nil {
		return Verified{}, errNotStarted
	}
	if !acme.ValidID(customerID) {
		return Verified{}, acme.Errorf(acme.CodeNotFound, "customer not found")
	}
	h, err := m.customers.Handle(ctx, customerStream(customerID), requestVerification{
		At: m.clock.Now().UTC().Truncate(time.Microsecond), Token: randomToken(32)})
	if err != nil {
		return Verified{}, err
	}
	c := h.State
	return Verified{Position: h.Position, Customer: View{CustomerID: c.ID, Email: c.Email, Name: c.Name, Status: c.Status,
		RegisteredAt: c.RegisteredAt}}, nil
}

// Customer returns a customer's profile (not_found when unknown).
func (m *Module) Customer(ctx context.Context, id string) (View, error) {
	if m.h == nil {
		return View{}, errNotStarted
	}
	if !acme.ValidID(id) {
		return View{}, acme.Errorf(acme.CodeNotFound, "customer not found")
	}
	return m.customer(ctx, id)
}

// Session is a new session: the token is shown once and stored only as a hash.
type Session struct {
	Token      string    `json:"token"`
	CustomerID string    `json:"customerId"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func errInvalidCredentials() error {
	return acme.Errorf(CodeInvalidCredentials, "the email or the password is wrong")
}

// Login checks the credentials and opens a session. An unknown email and a wrong
// password give the same error after the same work (one argon2id verification).
func (m *Module) Login(ctx context.Context, email, password string) (Session, error) {
	if m.h == nil {
		return Session{}, errNotStarted
	}
	type credential struct{ customerID, hash string }
	var found []credential
	if utf8.ValidString(email) && !acme.HasControl(email) && len(email) <= 254 { // PostgreSQL refuses NUL in TEXT
		// An account registered before addresses were NFC/IDNA-normalised
		// keeps its lower-cased key: looked up by both, the current key's
		// account first, and the password tried against each.
		rows, err := m.store().DB().QueryContext(ctx, `SELECT customer_id, password_hash FROM customer_credentials
			WHERE email_key IN ($1, $2) ORDER BY CASE WHEN email_key = $1 THEN 0 ELSE 1 END`,
			normaliseEmail(email), strings.ToLower(strings.TrimSpace(email)))
		if err != nil {
			return Session{}, fmt.Errorf("read credentials: %w", err)
		}
		for rows.Next() {
			var c credential
			if err := rows.Scan(&c.customerID, &c.hash); err != nil {
				rows.Close()
				return Session{}, fmt.Errorf("read credentials: %w", err)
			}
			found = append(found, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Session{}, fmt.Errorf("read credentials: %w", err)
		}
	}
	if len(found) == 0 {
		_, _ = m.hasher.verify(password, m.hasher.dummy) // same cost as a real check
		return Session{}, errInvalidCredentials()
	}
	customerID := ""
	for _, c := range found {
		ok, err := m.hasher.verify(password, c.hash)
		if err != nil {
			return Session{}, err
		}
		if ok {
			customerID = c.customerID
			break
		}
	}
	if customerID == "" {
		return Session{}, errInvalidCredentials()
	}
	now := m.clock.Now().UTC()
	s := Session{Token: randomToken(32), CustomerID: customerID, ExpiresAt: now.Add(m.sessionTTL).Truncate(time.Microsecond)}
	if err := m.write(ctx, `INSERT INTO customer_sessions (token_hash, customer_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`, tokenHash(s.Token), customerID, formatTime(now), formatTime(s.ExpiresAt)); err != nil {
		return Session{}, fmt.Errorf("store session: %w", err)
	}
	return s, nil
}

// Authenticate resolves a session token to its customer (httpapi.Authenticator):
// ok=false for an unknown, expired or revoked token.
func (m *Module) Authenticate(ctx context.Context, token string) (string, bool, error) {
	if m.h == nil || token == "" {
		return "", false, nil
	}
	var customerID, expires string
	err := m.store().DB().QueryRowContext(ctx, `SELECT customer_id, expires_at FROM customer_sessions
		WHERE token_hash = $1 AND revoked_at IS NULL`, tokenHash(token)).Scan(&customerID, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read session: %w", err)
	}
	if !m.clock.Now().Before(parseTime(expires)) {
		return "", false, nil
	}
	return customerID, true, nil
}

// Logout revokes the session of token; unauthorized when it is not a live session.
func (m *Module) Logout(ctx context.Context, token string) error {
	if m.h == nil {
		return errNotStarted
	}
	if token == "" {
		return acme.Errorf(acme.CodeUnauthorized, "a valid session token is required")
	}
	now := formatTime(m.clock.Now())
	errNoSession := acme.Errorf(acme.CodeUnauthorized, "a valid session token is required")
	_, err := m.store().Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		res, err := tx.ExecContext(ctx, `UPDATE customer_sessions SET revoked_at = $2
			WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2`, tokenHash(token), now)
		if err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errNoSession
		}
		return nil
	}})
	return err
}

// write runs one statement through the store's writer (a Commit with no events),
// so that session rows never contend with the event writer for the database.
func (m *Module) write(ctx context.Context, query string, args ...any) error {
	_, err := m.store().Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}})
	return err
}
