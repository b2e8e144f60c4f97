// Package acme is the shared kernel of Acme Commerce: the few types every bounded
// context speaks (money, identifiers, time, the client-visible error). Everything
// else lives in a context package (catalog, cart, ordering, ...), the event-sourcing
// core (es) or an adapter (sqlite, postgres, natsbus, redis, httpapi).
package acme

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Money is an integer amount of a currency's minor unit. Never a float.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Format writes m for people: the amount in major units with the currency's
// minor-unit digits, then the code ("100.00 USD", "500 JPY", "1.500 BHD").
func (m Money) Format() string {
	exp, ok := currencies[m.Currency]
	a := m.Amount
	sign := ""
	if a < 0 {
		sign, a = "-", -a
	}
	if !ok || exp == 0 {
		return fmt.Sprintf("%s%d %s", sign, a, m.Currency)
	}
	unit := int64(1)
	for range exp {
		unit *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, a/unit, exp, a%unit, m.Currency)
}

// HasControl reports whether s holds a control character (C0, DEL or C1).
// None belongs in a one-line field (a name, an address line, a tracking
// number): PostgreSQL's TEXT refuses NUL, and a CR or LF could forge lines
// of the emails that quote the field.
func HasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// HasControlInText is HasControl for a multi-line text (a description, a
// review's body): line breaks and tabs belong there, other controls do not.
func HasControlInText(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0
}

// Blank reports whether s shows nothing: only white space, format
// characters (a zero-width space U+200B, a joiner, a byte-order mark),
// other default-ignorable ones (the Hangul fillers, the combining grapheme
// joiner), variation selectors and the blank Braille pattern U+2800. A name
// or a title made of them alone is as empty as "".
func Blank(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsSpace(r) && !unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) && r != '\u2800'
	}) < 0
}

// Add returns m+o; the currencies must match (callers validate first).
func (m Money) Add(o Money) Money { return Money{Amount: m.Amount + o.Amount, Currency: m.Currency} }

// Times returns m multiplied by n.
func (m Money) Times(n int64) Money { return Money{Amount: m.Amount * n, Currency: m.Currency} }

// Bounds of amounts, in minor units: a catalog price (with its variant
// modifier) is at most MaxPrice and a cart's subtotal at most MaxAmount, so
// no total or discount computed from them comes near int64 overflow.
const (
	MaxPrice  = 1_000_000_000_000     // 10^12
	MaxAmount = 1_000_000_000_000_000 // 10^15
)

// currencies is the ISO 4217 active code list with each currency's minor-unit exponent.
var currencies = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
	"BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2,
	"BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CLP": 0, "CNY": 2,
	"COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2,
	"ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2,
	"GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
	"IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0,
	"KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2,
	"LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2,
	"MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2,
	"NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2,
	"RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2,
	"SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2,
	"TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0,
	"USD": 2, "UYU": 2, "UZS": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XOF": 0,
	"XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// String formats m for people: "19.99 USD" (the currency's minor-unit exponent).
func (m Money) String() string {
	exp, ok := currencies[m.Currency]
	if !ok || exp == 0 {
		return fmt.Sprintf("%d %s", m.Amount, m.Currency)
	}
	div := int64(1)
	for range exp {
		div *= 10
	}
	sign, a := "", m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, a/div, exp, a%div, m.Currency)
}

// ValidCurrency reports whether code is an active ISO 4217 currency code.
func ValidCurrency(code string) bool { _, ok := currencies[code]; return ok }

// IDs generates identifiers. Injected so tests can be deterministic.
type IDs interface{ NewID() string }

// UUIDv7 generates time-ordered UUIDv7 strings.
type UUIDv7 struct{}

// NewID returns a new UUIDv7.
func (UUIDv7) NewID() string { return uuid.Must(uuid.NewV7()).String() }

// NewID is a convenience for code that has no injected IDs (adapters, tests).
func NewID() string { return UUIDv7{}.NewID() }

// ValidID reports whether s is a UUID string.
func ValidID(s string) bool { _, err := uuid.Parse(s); return err == nil && len(s) == 36 }

// NormalizeID returns s in lower case when that makes it an id (ids are
// lower-case UUIDs, and UUIDs compare without regard to case: RFC 9562);
// anything else unchanged.
func NormalizeID(s string) string {
	if l := strings.ToLower(s); l != s && ValidID(l) {
		return l
	}
	return s
}

// Clock tells the time. Injected so tests can be deterministic.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time to the microsecond: the precision of the
// read models and of PostgreSQL, so a time reads the same from a command's
// answer and from a list.
func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Error is the one error type a client sees: a stable snake_case code, the HTTP
// status it maps to (see httpapi), a human message and optional field errors.
type Error struct {
	Code    string       // stable machine code, e.g. "email_taken"
	Message string       // human detail
	Fields  []FieldError // validation failures, for code validation_failed
}

// FieldError is one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation_failed error for the given field errors.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeValidationFailed, Message: "the request is not valid", Fields: fields}
}

// ErrorCode returns the code of the *Error in err's chain, or "" if there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Codes shared by every context. Context-specific codes are declared by the
// context (and mapped to a status in httpapi's table).
const (
	CodeBadRequest           = "bad_request"
	CodeValidationFailed     = "validation_failed"
	CodeNotFound             = "not_found"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeConflict             = "conflict"
	CodeInvalidTransition    = "invalid_transition"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeStaleReadModel       = "stale_read_model"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedEncoding  = "unsupported_content_encoding"
	CodeInternal             = "internal"
)
