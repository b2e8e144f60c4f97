package customers

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

type fakeClock struct{ t atomic.Pointer[time.Time] }

func (c *fakeClock) Now() time.Time   { return *c.t.Load() }
func (c *fakeClock) Set(t time.Time)  { c.t.Store(&t) }
func newClock(t time.Time) *fakeClock { c := &fakeClock{}; c.Set(t); return c }

func startModule(t testing.TB, opts ...Option) (*Module, es.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "customers.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := New(append([]Option{WithPasswordParams(testParams, 4)}, opts...)...)
	reg, err := es.NewRegistry(m.Messages()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, estest.NewHost("customers", st, reg)); err != nil {
		t.Fatal(err)
	}
	return m, st
}

func TestRegisterLoginLogout(t *testing.T) {
	ctx := context.Background()
	clock := newClock(t0)
	m, st := startModule(t, WithClock(clock), WithSessionTTL(time.Hour))

	res, err := m.Register(ctx, RegisterCustomerV1{Email: "Ann@Example.com", Password: "Zebra-Tundra-42", Name: " Ann "})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Customer
	if c.Email != "Ann@Example.com" || c.Name != "Ann" || c.Status != StatusRegistered || !c.RegisteredAt.Equal(t0) || !acme.ValidID(c.CustomerID) {
		t.Fatalf("registered = %+v", c)
	}
	if res.Position < 1 {
		t.Fatalf("position = %d", res.Position)
	}
	got, err := m.Customer(ctx, c.CustomerID)
	if err != nil || got != c {
		t.Fatalf("Customer = %+v, %v; want %+v", got, err, c)
	}
	events, _ := st.ReadStream(ctx, customerStream(c.CustomerID), es.StreamQuery{})
	if len(events) != 1 || events[0].Type != "CustomerRegistered" {
		t.Fatalf("customer stream = %+v", events)
	}
	ev, _ := CustomerRegistered.Decode(events[0])
	if len(ev.VerificationToken) < 40 {
		t.Fatalf("verification token %q", ev.VerificationToken)
	}

	// Same address in another case: taken.
	if _, err := m.Register(ctx, RegisterCustomerV1{Email: "ANN@example.COM", Password: "Zebra-Tundra-42", Name: "Ann"}); acme.ErrorCode(err) != CodeEmailTaken {
		t.Fatalf("duplicate registration: %v", err)
	}

	// Login with any case of the address.
	s, err := m.Login(ctx, "ann@EXAMPLE.com", "Zebra-Tundra-42")
	if err != nil {
		t.Fatal(err)
	}
	if s.CustomerID != c.CustomerID || !s.ExpiresAt.Equal(t0.Add(time.Hour)) || len(s.Token) != 43 {
		t.Fatalf("session = %+v", s)
	}
	if id, ok, err := m.Authenticate(ctx, s.Token); !ok || err != nil || id != c.CustomerID {
		t.Fatalf("Authenticate = %q %v %v", id, ok, err)
	}
	// The token itself is not stored.
	var n int
	_ = st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_sessions WHERE token_hash = $1`, s.Token).Scan(&n)
	if n != 0 {
		t.Fatal("the raw token is stored")
	}

	for _, bad := range []struct{ email, password string }{{"ann@example.com", "Zebra-Tundra-43"}, {"nobody@example.com", "Zebra-Tundra-42"}, {"", ""}} {
		if _, err := m.Login(ctx, bad.email, bad.password); acme.ErrorCode(err) != CodeInvalidCredentials {
			t.Errorf("Login(%q) = %v, want invalid_credentials", bad.email, err)
		}
	}

	// Logout revokes; a second logout and a revoked token are refused.
	if err := m.Logout(ctx, s.Token); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Authenticate(ctx, s.Token); ok {
		t.Fatal("revoked token still authenticates")
	}
	if err := m.Logout(ctx, s.Token); acme.ErrorCode(err) != acme.CodeUnauthorized {
		t.Fatalf("second logout: %v", err)
	}

	// Expiry.
	s2, err := m.Login(ctx, "ann@example.com", "Zebra-Tundra-42")
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(time.Hour - time.Second))
	if _, ok, _ := m.Authenticate(ctx, s2.Token); !ok {
		t.Fatal("token expired early")
	}
	clock.Set(t0.Add(time.Hour))
	if _, ok, _ := m.Authenticate(ctx, s2.Token); ok {
		t.Fatal("expired token authenticates")
	}
	if err := m.Logout(ctx, s2.Token); acme.ErrorCode(err) != acme.CodeUnauthorized {
		t.Fatalf("logout of an expired token: %v", err)
	}
	if _, ok, _ := m.Authenticate(ctx, "garbage"); ok {
		t.Fatal("garbage authenticates")
	}
	if _, err := m.Customer(ctx, acme.NewID()); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("unknown customer: %v", err)
	}
}

// TestConcurrentDuplicateRegistrations: of 20 concurrent registrations of one
// address (in varying case) exactly one succeeds; the others get email_taken.
func TestConcurrentDuplicateRegistrations(t *testing.T) {
	ctx := context.Background()
	m, st := startModule(t)
	const n = 20
	var wg sync.WaitGroup
	var ok, taken atomic.Int32
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			email := "race@example.com"
			if i%2 == 1 {
				email = "RACE@example.com"
			}
			_, err := m.Register(ctx, RegisterCustomerV1{Email: email, Password: "Zebra-Tundra-42", Name: "Racer"})
			switch acme.ErrorCode(err) {
			case "":
				if err != nil {
					errs <- err
					return
				}
				ok.Add(1)
			case CodeEmailTaken:
				taken.Add(1)
			default:
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load() != 1 || taken.Load() != n-1 {
		t.Fatalf("ok = %d, taken = %d; want 1 and %d", ok.Load(), taken.Load(), n-1)
	}
	var rows int
	if err := st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM customers`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("customers rows = %d, %v", rows, err)
	}
}

// TestLoginTimingIsUniform: an unknown email costs one argon2 verification, like
// a wrong password (with the default parameters the difference is well under
// the cost of a hash).
func TestLoginTimingIsUniform(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	ctx := context.Background()
	m, _ := startModule(t, WithPasswordParams(DefaultPasswordParams, 1))
	if _, err := m.Register(ctx, RegisterCustomerV1{Email: "t@example.com", Password: "Zebra-Tundra-42", Name: "T"}); err != nil {
		t.Fatal(err)
	}
	// Interleave the two cases and keep each one's fastest run, so that load on
	// the machine hits both alike.
	known, unknown := time.Hour, time.Hour
	for range 10 {
		for _, c := range []struct {
			email string
			best  *time.Duration
		}{{"t@example.com", &known}, {"nobody@example.com", &unknown}} {
			start := time.Now()
			_, _ = m.Login(ctx, c.email, "wrong-password-1")
			*c.best = min(*c.best, time.Since(start))
		}
	}
	ratio := float64(unknown) / float64(known)
	t.Logf("wrong password %v, unknown email %v (ratio %.2f)", known, unknown, ratio)
	if ratio < 0.33 || ratio > 3 { // generous: the machine may be loaded; TestLoginDoesEqualWork is exact
		t.Fatalf("login time differs: wrong password %v, unknown email %v", known, unknown)
	}
}

// TestLoginDoesEqualWork: an unknown email and a wrong password each cost exactly
// one argon2id verification with the same parameters (the unknown email against
// a dummy hash), so neither the answer nor the time tells them apart.
func TestLoginDoesEqualWork(t *testing.T) {
	ctx := context.Background()
	m, _ := startModule(t)
	if _, err := m.Register(ctx, RegisterCustomerV1{Email: "w@example.com", Password: "Zebra-Tundra-42", Name: "W"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.hasher.dummy, fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", testParams.Memory, testParams.Time, testParams.Threads)) {
		t.Fatalf("dummy hash %q does not use the current parameters", m.hasher.dummy)
	}
	for _, email := range []string{"w@example.com", "nobody@example.com", "bad\x00@example.com"} {
		before := m.hasher.verified.Load()
		_, err := m.Login(ctx, email, "wrong-password-1")
		if acme.ErrorCode(err) != CodeInvalidCredentials {
			t.Fatalf("Login(%q) = %v", email, err)
		}
		if n := m.hasher.verified.Load() - before; n != 1 {
			t.Fatalf("Login(%q) ran %d verifications, want 1", email, n)
		}
	}
}

// registeredToken returns the verification token of a customer's
// CustomerRegistered event (what the welcome email's link carries).
func registeredToken(t *testing.T, st es.Store, customerID string) string {
	t.Helper()
	events, err := st.ReadStream(context.Background(), customerStream(customerID), es.StreamQuery{})
	if err != nil || len(events) == 0 {
		t.Fatalf("customer stream: %v, %v", events, err)
	}
	r, err := CustomerRegistered.Decode(events[0])
	if err != nil {
		t.Fatal(err)
	}
	return r.VerificationToken
}

// TestVerifyEmail: the link's token makes the customer ACTIVE once; the same
// token again answers the same without a second event; another token is
// not_found.
func TestVerifyEmail(t *testing.T) {
	ctx := context.Background()
	m, st := startModule(t, WithClock(newClock(t0)))
	res, err := m.Register(ctx, RegisterCustomerV1{Email: "ann@example.com", Password: "Zebra-Tundra-42", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Customer.CustomerID
	other, err := m.Register(ctx, RegisterCustomerV1{Email: "bob@example.com", Password: "Zebra-Tundra-42", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	token := registeredToken(t, st, id)

	for range 2 {
		v, err := m.VerifyEmail(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if v.Customer.CustomerID != id || v.Customer.Status != StatusActive || v.Position < res.Position {
			t.Fatalf("verified = %+v", v)
		}
		if got, _ := m.Customer(ctx, id); got.Status != StatusActive {
			t.Fatalf("profile after verification: %+v", got)
		}
	}
	events, _ := st.ReadStream(ctx, customerStream(id), es.StreamQuery{})
	if len(events) != 2 || events[1].Type != "CustomerEmailVerified" {
		t.Fatalf("customer stream = %+v", events)
	}
	if got, _ := m.Customer(ctx, other.Customer.CustomerID); got.Status != StatusRegistered {
		t.Fatalf("the other customer: %+v", got)
	}
	for _, bad := range []string{token + "x", "x", strings.Repeat("a", 500), "a\x00b"} {
		if _, err := m.VerifyEmail(ctx, bad); acme.ErrorCode(err) != acme.CodeNotFound {
			t.Errorf("VerifyEmail(%q) = %v, want not_found", bad, err)
		}
	}
	if _, err := m.VerifyEmail(ctx, " "); acme.ErrorCode(err) != acme.CodeValidationFailed {
		t.Errorf("VerifyEmail(blank) = %v, want validation_failed", err)
	}
}

// TestVerificationLinkExpiresAndIsReplaced: a link older than VerificationTTL
// is 410 token_expired; a new one works, and the old one is gone.
func TestVerificationLinkExpiresAndIsReplaced(t *testing.T) {
	ctx := context.Background()
	clock := newClock(t0)
	m, st := startModule(t, WithClock(clock))
	res, err := m.Register(ctx, RegisterCustomerV1{Email: "ann@example.com", Password: "Zebra-Tundra-42", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Customer.CustomerID
	first := registeredToken(t, st, id)
	clock.Set(t0.Add(VerificationTTL + time.Minute))
	if _, err := m.VerifyEmail(ctx, first); acme.ErrorCode(err) != CodeTokenExpired {
		t.Fatalf("an expired link: %v", err)
	}
	if _, err := m.RequestVerification(ctx, "nope"); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("a new link for nobody: %v", err)
	}
	again, err := m.RequestVerification(ctx, id)
	if err != nil || again.Customer.Status != StatusRegistered || again.Position <= res.Position {
		t.Fatalf("a new link: %+v %v", again, err)
	}
	events, _ := st.ReadStream(ctx, customerStream(id), es.StreamQuery{})
	if len(events) != 2 || events[1].Type != "VerificationEmailRequested" {
		t.Fatalf("customer stream = %+v", events)
	}
	req, err := VerificationEmailRequested.Decode(events[1])
	if err != nil || req.VerificationToken == "" || req.VerificationToken == first || req.Email != "ann@example.com" {
		t.Fatalf("request = %+v %v", req, err)
	}
	if _, err := m.VerifyEmail(ctx, first); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("the replaced link: %v", err)
	}
	if v, err := m.VerifyEmail(ctx, req.VerificationToken); err != nil || v.Customer.Status != StatusActive {
		t.Fatalf("the new link: %+v %v", v, err)
	}
	if _, err := m.RequestVerification(ctx, id); acme.ErrorCode(err) != CodeAlreadyVerified {
		t.Fatalf("a new link once verified: %v", err)
	}
}

// TestVerifyEmailAfterUpgrade: customers registered before the token table
// existed get their rows at start, from their events.
func TestVerifyEmailAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	m, st := startModule(t)
	res, err := m.Register(ctx, RegisterCustomerV1{Email: "ann@example.com", Password: "Zebra-Tundra-42", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM customer_email_tokens`)
		return err
	}}); err != nil {
		t.Fatal(err)
	}
	token := registeredToken(t, st, res.Customer.CustomerID)
	if _, err := m.VerifyEmail(ctx, token); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("without its row: %v, want not_found", err)
	}
	m2 := New(WithPasswordParams(testParams, 4))
	reg, _ := es.NewRegistry(m2.Messages()...)
	if err := m2.Start(ctx, estest.NewHost("customers", st, reg)); err != nil {
		t.Fatal(err)
	}
	if v, err := m2.VerifyEmail(ctx, token); err != nil || v.Customer.Status != StatusActive {
		t.Fatalf("after a restart: %+v, %v", v, err)
	}
}

// Addresses compare as the text they show: NFC, the local part folded after
// composing (a decomposed "İ" is the precomposed one), an internationalised
// domain as IDNA's ASCII form (its case folded by IDNA, not by ToLower).
// A domain IDNA refuses (Latin and Hebrew in one label) is not an address. An account whose credentials were
// keyed under the earlier, lower-case-only rule still signs in.
func TestEmailNormalisation(t *testing.T) {
	ctx := context.Background()
	m, st := startModule(t)
	reg := func(email string) error {
		_, err := m.Register(ctx, RegisterCustomerV1{Email: email, Password: "Zebra-Tundra-42", Name: "N"})
		return err
	}
	for _, tc := range []struct{ first, same string }{
		{"\u0130lker@example.com", "I\u0307LKER@example.com"},
		{"jos\u00e9@ex\u00e4mple.com", "jose\u0301@EXA\u0308MPLE.com"},
		{"a@xn--exmple-cua.com", "A@Ex\u00c4mple.com"},
	} {
		if err := reg(tc.first); err != nil {
			t.Fatalf("register %q: %v", tc.first, err)
		}
		if err := reg(tc.same); acme.ErrorCode(err) != CodeEmailTaken {
			t.Fatalf("register %q after %q: %v, want email_taken", tc.same, tc.first, err)
		}
		if _, err := m.Login(ctx, tc.same, "Zebra-Tundra-42"); err != nil {
			t.Fatalf("sign in as %q (registered %q): %v", tc.same, tc.first, err)
		}
	}
	// İstanbul.com is not istanbul.com: IDNA, not ToLower, folds a domain.
	if err := reg("a@istanbul.com"); err != nil {
		t.Fatal(err)
	}
	if err := reg("a@\u0130stanbul.com"); err != nil {
		t.Fatalf("a@İstanbul.com taken by a@istanbul.com: %v", err)
	}
	if err := reg("a@a\u05d0.com"); acme.ErrorCode(err) != acme.CodeValidationFailed {
		t.Fatalf("a domain IDNA refuses: %v", err)
	}
	// An account keyed under the earlier rule (lower case only).
	if err := reg("ole@\u00f8re.no"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `UPDATE customer_credentials SET email_key = $1 WHERE email_key = $2`,
		"ole@\u00f8re.no", normaliseEmail("ole@\u00f8re.no")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Login(ctx, "OLE@\u00f8re.no", "Zebra-Tundra-42"); err != nil {
		t.Fatalf("sign in under the earlier key: %v", err)
	}
	if _, err := m.Login(ctx, "OLE@\u00f8re.no", "Zebra-Tundra-43"); acme.ErrorCode(err) != CodeInvalidCredentials {
		t.Fatalf("wrong password under the earlier key: %v", err)
	}
}
