package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"acme"
	"acme/es"
)

// statusOf is the one table from error code to HTTP status. Every code a
// context returns must be here (a test checks the contexts' codes).
var statusOf = map[string]int{
	acme.CodeBadRequest:           400,
	acme.CodeUnauthorized:         401,
	"invalid_credentials":         401,
	acme.CodeForbidden:            403,
	acme.CodeNotFound:             404,
	"product_not_found":           404,
	"item_not_in_cart":            404,
	acme.CodeConflict:             409,
	acme.CodeInvalidTransition:    409,
	"email_taken":                 409,
	"already_verified":            409,
	"token_expired":               410,
	"category_name_taken":         409,
	"duplicate_sku":               409,
	"already_inactive":            409,
	"out_of_stock":                409,
	"insufficient_stock":          409,
	"cart_empty":                  409,
	"promotion_code_taken":        409,
	"already_reviewed":            409,
	"already_flagged":             409,
	"already_voted":               409,
	acme.CodePayloadTooLarge:      413,
	acme.CodeUnsupportedEncoding:  415,
	acme.CodeValidationFailed:     422,
	acme.CodeIdempotencyKeyReused: 422,
	"weak_password":               422,
	"depth_exceeded":              422,
	"parent_not_found":            422,
	"invalid_price":               422,
	"invalid_name":                422,
	"category_not_found":          422,
	"invalid_quantity":            422,
	"no_attribute":                422,
	"variant_required":            422,
	"invalid_promotion_code":      422,
	"invalid_address":             422,
	"tracking_mismatch":           422,
	"invalid_rating":              422,
	"method_not_allowed":          405,
	acme.CodeStaleReadModel:       503,
	acme.CodeInternal:             500,
}

// StatusOf returns the HTTP status of an error code (422 for an unknown code of
// a client error is wrong, so unknown codes are 500 and logged).
func StatusOf(code string) (int, bool) {
	s, ok := statusOf[code]
	return s, ok
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail,omitempty"`
	Code   string            `json:"code"`
	Errors []acme.FieldError `json:"errors,omitempty"`
}

// StatusClientClosed is the status logged and counted for a request whose
// client went away before the answer (nginx's 499): nothing failed on the
// server, and no one reads what is written.
const StatusClientClosed = 499

// WriteError writes err as problem+json.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		w.WriteHeader(StatusClientClosed)
		return
	}
	var ae *acme.Error
	p := Problem{Status: 500, Code: acme.CodeInternal, Title: "Internal Server Error", Detail: "an unexpected error occurred"}
	lostRace := errors.Is(err, es.ErrConcurrency)
	if lostRace {
		// a command that lost every retry against concurrent changes of the
		// same stream: nothing was stored, and a retry may succeed
		err = acme.Errorf(acme.CodeConflict, "the same thing was being changed by other requests at the same time; nothing was changed, retry")
	}
	if errors.As(err, &ae) {
		status, ok := statusOf[ae.Code]
		if !ok {
			slog.ErrorContext(r.Context(), "error code missing from the status table", "code", ae.Code)
			status = 500
		}
		p = Problem{Status: status, Code: ae.Code, Title: http.StatusText(status), Detail: ae.Message, Errors: ae.Fields}
	} else {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	p.Type = "https://acme.example/problems/" + p.Code
	w.Header().Set("Content-Type", "application/problem+json")
	if lostRace || p.Status == http.StatusServiceUnavailable { // worth a retry soon
		w.Header().Set("Retry-After", "1")
	}
	if p.Status == http.StatusUnauthorized { // RFC 9110 §11.6.1: say which scheme would do
		w.Header().Set("WWW-Authenticate", `Bearer realm="acme"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
