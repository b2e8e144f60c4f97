// Package customers is the Customer Management context: who the customers are,
// their credentials and their sessions.
//
// Language: a customer registers (RegisterCustomer → CustomerRegistered, status
// REGISTERED) with an email, a name and a password; verifies the address with
// the link of the welcome email (VerifyEmail → CustomerEmailVerified, status
// ACTIVE); signs in (a session: a bearer token with an expiry) and signs out. Get Customer shows a profile to the
// customer themself or an admin (another customer gets 404).
//
// Invariants:
//   - An email address belongs to at most one customer, compared case-insensitively,
//     NFC-normalised, with an internationalised domain in its ASCII form
//     (normaliseEmail; addresses registered before that rule keep the key
//     they were claimed under).
//     Race-free by a reservation stream per normalised address,
//     "email-<hex sha256(normaliseEmail(email))>": registration commits EmailReserved there
//     with Expected = NoStream in the SAME Commit as the customer's
//     CustomerRegistered. Of concurrent registrations of one address exactly one
//     commit succeeds; the others get ErrConcurrency, reload the reservation
//     stream, see it claimed and answer 409 email_taken. The hash keeps addresses
//     out of stream ids (they are published) and bounds their length. A unique
//     index on the read model (email_key) is a second line of defence.
//   - A password has at least 10 characters, a letter and a digit, and is not in
//     the embedded list of common passwords (common-passwords.txt, compared
//     lower-cased) → 422 weak_password. The email is a bare address (net/mail, no
//     display name) and the name 1–100 characters → 422 validation_failed.
//   - Passwords are stored only as argon2id hashes (PHC encoding with salt and
//     parameters), in the customer_credentials table written in the registration's
//     transaction. Credentials are deliberately not events: the log is published
//     to the bus and kept forever, and a hash is a secret.
//   - Sessions are 32 random bytes (base64url); only their SHA-256 is stored
//     (customer_sessions), with an expiry (24 h by default). Logout revokes the
//     row. Sessions are operational state, not business facts, so they are rows,
//     not events. Login answers 401 invalid_credentials for an unknown email and a
//     wrong password alike, and in the same time: an unknown email is verified
//     against a dummy hash with the same parameters.
//
// Messages out: CustomerRegistered (→ notifications, with verificationToken for
// the verification link), VerificationEmailRequested (→ notifications: a new
// link, which replaces the previous ones; a link works for VerificationTTL),
// CustomerEmailVerified, EmailReserved (internal). In: none.
package customers

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Module is the customers context.
type Module struct {
	clock      acme.Clock
	sessionTTL time.Duration
	hasher     *hasher

	h         es.Host
	customers *es.Aggregate[Customer, any]
	emails    *es.Aggregate[EmailReservation, reserveEmail]
}

// Option configures the module.
type Option func(*Module)

// WithClock sets the clock (default: the system clock, UTC).
func WithClock(c acme.Clock) Option { return func(m *Module) { m.clock = c } }

// WithSessionTTL sets how long a session token lives (default 24 h).
func WithSessionTTL(d time.Duration) Option { return func(m *Module) { m.sessionTTL = d } }

// WithPasswordParams sets the argon2id parameters of new hashes and how many
// hashes may be computed at once (memory bound).
func WithPasswordParams(p PasswordParams, concurrency int) Option {
	return func(m *Module) { m.hasher = newHasher(p, concurrency) }
}

// New returns the customers module.
func New(opts ...Option) *Module {
	m := &Module{clock: acme.SystemClock{}, sessionTTL: 24 * time.Hour}
	for _, o := range opts {
		o(m)
	}
	if m.hasher == nil {
		m.hasher = newHasher(DefaultPasswordParams, 4)
	}
	return m
}

var _ es.Module = (*Module)(nil)
var _ httpapi.Authenticator = (*Module)(nil)

// Name is the context's name.
func (m *Module) Name() string { return "customers" }

// Messages lists the messages customers owns.
func (m *Module) Messages() []es.MessageType { return messages() }

// Start applies the migrations and prepares the command path.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	if err := es.MigrateDir(ctx, h.Store(), "customers", migrations, "migrations"); err != nil {
		return fmt.Errorf("customers: migrate: %w", err)
	}
	m.h = h
	m.customers = &es.Aggregate[Customer, any]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID,
		StreamType: "customer", Decider: customerDecider, Inline: m.project}
	m.emails = &es.Aggregate[EmailReservation, reserveEmail]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID,
		StreamType: "email", Decider: emailDecider}
	if err := m.backfillTokens(ctx); err != nil {
		return err
	}
	return nil
}

func (m *Module) store() es.Store { return m.h.Store() }

var errNotStarted = errors.New("customers: module not started")

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
