package customers

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"acme"
	"acme/es"
)

// Customer statuses: REGISTERED until the customer follows the verification
// link of their welcome email, then ACTIVE (the catalog's name for a customer in
// good standing).
const (
	StatusRegistered = "REGISTERED"
	StatusActive     = "ACTIVE"
)

// Error codes of this context (mapped in httpapi's status table).
const (
	CodeEmailTaken         = "email_taken"
	CodeWeakPassword       = "weak_password"
	CodeInvalidCredentials = "invalid_credentials"
	CodeTokenExpired       = "token_expired"    // 410: a verification link older than VerificationTTL
	CodeAlreadyVerified    = "already_verified" // 409: a new link for a verified address
)

// VerificationTTL is how long a verification link works. A customer whose link
// expired asks for a new one (POST /api/v1/customers/{id}/verification-email);
// a new link replaces the previous ones.
const VerificationTTL = 7 * 24 * time.Hour

// Customer is the state of a customer stream.
type Customer struct {
	ID           string
	Email        string
	Name         string
	Status       string
	RegisteredAt time.Time
	VerifiedAt   time.Time // zero until the email address is verified
	LinkSentAt   time.Time // when the current verification link was issued
}

// registerCustomer is the decider's command: everything decide needs, with the
// id, time and verification token chosen by the caller (decide is pure).
type registerCustomer struct {
	CustomerID        string
	Email             string
	Name              string
	Password          string // checked for strength here; hashed by the service, never in an event
	At                time.Time
	VerificationToken string
}

// verifyEmail marks the customer's address as verified (the caller found the
// customer by the token of the verification link, the current one: a new link
// replaces the previous ones).
type verifyEmail struct {
	At time.Time
}

// requestVerification issues a new verification link (token chosen by the
// caller).
type requestVerification struct {
	At    time.Time
	Token string
}

// customerDecider is the Customer aggregate; its commands are registerCustomer
// and verifyEmail.
var customerDecider = es.Decider[Customer, any]{
	Decide: func(s Customer, cmd any) ([]any, error) {
		switch c := cmd.(type) {
		case registerCustomer:
			return decideRegister(s, c)
		case verifyEmail:
			if s.ID == "" {
				return nil, acme.Errorf(acme.CodeNotFound, "customer not found")
			}
			if !s.VerifiedAt.IsZero() {
				return nil, nil // verified already: following the link again changes nothing
			}
			if c.At.Sub(s.LinkSentAt) > VerificationTTL {
				return nil, acme.Errorf(CodeTokenExpired, "this verification link has expired: ask for a new one (POST /api/v1/customers/%s/verification-email)", s.ID)
			}
			return []any{CustomerEmailVerifiedV1{CustomerID: s.ID, Email: s.Email, Status: StatusActive, VerifiedAt: c.At}}, nil
		case requestVerification:
			if s.ID == "" {
				return nil, acme.Errorf(acme.CodeNotFound, "customer not found")
			}
			if !s.VerifiedAt.IsZero() {
				return nil, acme.Errorf(CodeAlreadyVerified, "this email address is verified already")
			}
			return []any{VerificationEmailRequestedV1{CustomerID: s.ID, Email: s.Email, Name: s.Name,
				VerificationToken: c.Token, RequestedAt: c.At}}, nil
		}
		return nil, fmt.Errorf("customers: unknown command %T", cmd)
	},
	Evolve: func(s Customer, e any) Customer {
		switch e := e.(type) {
		case CustomerRegisteredV1:
			s = Customer{ID: e.CustomerID, Email: e.Email, Name: e.Name, Status: e.Status, RegisteredAt: e.RegisteredAt, LinkSentAt: e.RegisteredAt}
		case VerificationEmailRequestedV1:
			s.LinkSentAt = e.RequestedAt
		case CustomerEmailVerifiedV1:
			s.Status, s.VerifiedAt = e.Status, e.VerifiedAt
		}
		return s
	},
}

func decideRegister(s Customer, c registerCustomer) ([]any, error) {
	if s.ID != "" {
		return nil, acme.Errorf(acme.CodeConflict, "customer %s is already registered", s.ID)
	}
	if err := validateProfile(c.Email, c.Name); err != nil {
		return nil, err
	}
	if err := checkPassword(c.Password); err != nil {
		return nil, err
	}
	return []any{CustomerRegisteredV1{
		CustomerID: c.CustomerID, Email: c.Email, Name: c.Name, Status: StatusRegistered,
		RegisteredAt: c.At, VerificationToken: c.VerificationToken,
	}}, nil
}

// EmailReservation is the state of an email reservation stream.
type EmailReservation struct{ CustomerID string }

type reserveEmail struct{ CustomerID string }

// emailDecider claims an address once. The service commits its event with the
// customer's CustomerRegistered in one Commit, expecting the reservation stream
// not to exist: of concurrent registrations of one address exactly one commits.
var emailDecider = es.Decider[EmailReservation, reserveEmail]{
	Decide: func(s EmailReservation, c reserveEmail) ([]any, error) {
		if s.CustomerID != "" {
			return nil, acme.Errorf(CodeEmailTaken, "this email address is already registered")
		}
		return []any{EmailReservedV1{CustomerID: c.CustomerID}}, nil
	},
	Evolve: func(s EmailReservation, e any) EmailReservation {
		if r, ok := e.(EmailReservedV1); ok {
			s.CustomerID = r.CustomerID
		}
		return s
	},
}

// validateProfile checks the email syntax (a bare RFC 5322 address, no display
// name) and the name (1–100 characters), collecting field errors.
func validateProfile(email, name string) error {
	var fields []acme.FieldError
	if !validEmail(email) {
		fields = append(fields, acme.FieldError{Field: "email", Message: "must be a valid email address such as name@example.com"})
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n < 1 || n > 100 || !utf8.ValidString(name) || acme.Blank(name) {
		fields = append(fields, acme.FieldError{Field: "name", Message: "must be 1 to 100 characters"})
	} else if acme.HasControl(name) {
		fields = append(fields, acme.FieldError{Field: "name", Message: "must not contain control characters (line breaks, NUL)"})
	}
	if len(fields) > 0 {
		return acme.Invalid(fields...)
	}
	return nil
}

// validEmail accepts a bare address (what net/mail parses, with nothing around
// it), at most 254 bytes, with a dot-free-or-not domain but no display name.
func validEmail(s string) bool {
	s = norm.NFC.String(s) // a decomposed "é" is the letter it shows
	if s == "" || len(s) > 254 || strings.TrimSpace(s) != s || !utf8.ValidString(s) || acme.HasControl(s) {
		return false
	}
	if strings.ContainsRune(s, utf8.RuneError) {
		return false // the JSON held a broken character (a lone surrogate, "\ud800"): no one receives mail there
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if _, idnaOK := asciiDomain(domain); !idnaOK {
		return false // an internationalised domain that has no ASCII form
	}
	return ok && local != "" && validDomain(domain) && !strings.ContainsAny(s, "<>\"()[]\\,;: ")
}

// validDomain: a host name with a dot, of labels of letters, digits and
// hyphens (not at either end), 1 to 63 characters each; the last label is not
// all digits. ("user@localhost" and "a@b" cannot receive a shop's mail.)
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if len(l) < 1 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r > 0x7f && unicode.IsLetter(r)) {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.TrimFunc(tld, func(r rune) bool { return r >= '0' && r <= '9' }) != ""
}

// normaliseEmail is the key of uniqueness and login: addresses are compared
// as Unicode text (NFC: "é" typed as one character or as "e" and a combining
// accent is one address), the local part case-insensitively, and a domain
// with non-ASCII letters in its IDNA ASCII form (exämple.com is
// xn--exmple-cua.com; IDNA folds its case). validEmail refuses a domain
// IDNA cannot convert, so no key is built from one.
func normaliseEmail(s string) string {
	s = norm.NFC.String(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return norm.NFC.String(strings.ToLower(s))
	}
	local, domain := norm.NFC.String(strings.ToLower(s[:at])), s[at+1:]
	if a, ok := asciiDomain(domain); ok {
		domain = a
	} else {
		domain = strings.ToLower(domain)
	}
	return local + "@" + domain
}

// asciiDomain is domain lower-cased if it is ASCII, else its IDNA ASCII
// form; ok is false when IDNA refuses it.
func asciiDomain(domain string) (string, bool) {
	for i := 0; i < len(domain); i++ {
		if domain[i] >= utf8.RuneSelf {
			a, err := idna.Lookup.ToASCII(domain)
			return a, err == nil
		}
	}
	return strings.ToLower(domain), true
}
