// Package httpapi is the HTTP foundation every context's routes use: JSON in and
// out, RFC 9457 problem+json errors from one table of codes, bearer-token roles,
// Idempotency-Key on POST, consistency tokens (Acme-Position / Acme-Min-Position),
// request logging and panic recovery, and the OpenAPI document of every route.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"acme"
)

// Role is what a caller may do.
type Role int

const (
	Anonymous Role = iota // no token
	Customer              // a customer's session token
	Admin                 // ACME_ADMIN_TOKEN
)

// Caller is the authenticated caller of a request.
type Caller struct {
	Role       Role
	CustomerID string // for Customer
}

// Actor is the caller as recorded in event metadata: "admin", "customer:<id>" or "anonymous".
func (c Caller) Actor() string {
	switch c.Role {
	case Admin:
		return "admin"
	case Customer:
		return "customer:" + c.CustomerID
	}
	return "anonymous"
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of the request ctx belongs to.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// HandlerFunc handles a request; a returned error becomes a problem+json response
// (an *acme.Error by its code; anything else a 500 with code "internal").
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// MaxBody is the largest request body accepted (413 above it).
const MaxBody = 1 << 20

// Decode reads the JSON body of r into v: a body that is not one JSON object
// (empty, null, an array, trailing data), invalid UTF-8, unknown fields
// (field names match exactly: encoding/json alone would also take "NAME" for
// "name"), wrong types or malformed JSON are a 400 bad_request; a body over
// MaxBody is a 413.
func Decode(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return DecodeBytes(data, v)
}

// DecodeOptional is Decode for a body the client may leave out (a route
// registered with OptionalBody): an empty body leaves v as it is.
func DecodeOptional(r *http.Request, v any) error {
	data, err := bodyIfAny(r)
	if err != nil || data == nil {
		return err
	}
	return DecodeBytes(data, v)
}

// bodyIfAny reads the request body; nil when there is none or it is blank.
func bodyIfAny(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	data, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return nil, err
	}
	return data, nil
}

// readBody reads the request body, at most MaxBody bytes (413 beyond).
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, acme.Errorf(acme.CodePayloadTooLarge, "the body is larger than %d bytes", MaxBody)
		}
		return nil, acme.Errorf(acme.CodeBadRequest, "reading the body: %v", err)
	}
	return data, nil
}

// DecodeBytes is Decode of a body already read.
func DecodeBytes(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return acme.Errorf(acme.CodeBadRequest, "the body is empty; a JSON object is expected")
	case !utf8.Valid(data):
		return acme.Errorf(acme.CodeBadRequest, "the body is not valid UTF-8")
	case trimmed[0] != '{':
		return acme.Errorf(acme.CodeBadRequest, "malformed JSON body: a JSON object is expected")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return acme.Errorf(acme.CodeBadRequest, "malformed JSON body: %s", cleanJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return acme.Errorf(acme.CodeBadRequest, "malformed JSON body: trailing data after the object")
	}
	if err := exactKeys(data, reflect.TypeOf(v), ""); err != nil {
		return acme.Errorf(acme.CodeBadRequest, "malformed JSON body: %s", err)
	}
	return nil
}

// exactKeys checks that every object key of data names a field of t exactly
// (encoding/json matches field names case-insensitively), recursing into
// nested structs, slices and maps of them. data has decoded into t already.
func exactKeys(data []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil // parses itself
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, err := objectMembers(data, path)
		if err != nil || obj == nil {
			return err // nil for null, or not an object: Decode already judged it
		}
		fields := jsonFields(t)
		for k, raw := range obj {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("unknown field %q", path+k)
			}
			if err := exactKeys(raw, ft, path+k+"."); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for i, raw := range items {
			if err := exactKeys(raw, t.Elem(), fmt.Sprintf("%s%d.", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, err := objectMembers(data, path)
		if err != nil || obj == nil {
			return err
		}
		for k, raw := range obj {
			if err := exactKeys(raw, t.Elem(), path+k+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// objectMembers returns the members of the JSON object data (nil when data
// is not an object). A name given twice is an error: encoding/json would keep
// the last value silently, and which one the client meant is a guess.
func objectMembers(data []byte, path string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil
	}
	obj := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil
		}
		k, _ := tok.(string)
		if _, dup := obj[k]; dup {
			return nil, fmt.Errorf("field %q is given twice", path+k)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil
		}
		obj[k] = raw
	}
	return obj, nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// jsonFields maps the JSON names of t's fields (embedded structs' promoted)
// to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func cleanJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
	}
	return err.Error()
}

// jsonKind names what JSON value a Go type takes (not the Go type's name,
// which means nothing to a client).
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another JSON value"
}

// JSON writes v as a JSON response with status.
func JSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// List is the contract's list envelope.
type List[T any] struct {
	Items    []T `json:"items"`
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
}

// Page sizes of lists.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Paging reads ?page= (1-based, default 1) and ?pageSize= (default 20, max 100).
func Paging(r *http.Request) (page, size int, err error) {
	page, size = 1, DefaultPageSize
	var fields []acme.FieldError
	if s := r.URL.Query().Get("page"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 {
			fields = append(fields, acme.FieldError{Field: "page", Message: "must be an integer >= 1"})
		}
		page = n
	}
	if s := r.URL.Query().Get("pageSize"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 || n > MaxPageSize {
			fields = append(fields, acme.FieldError{Field: "pageSize", Message: fmt.Sprintf("must be an integer from 1 to %d", MaxPageSize)})
		}
		size = n
	}
	if len(fields) > 0 {
		return 0, 0, acme.Invalid(fields...)
	}
	return page, size, nil
}

// Window returns the slice bounds of a page over n items.
func Window(n, page, size int) (from, to int) {
	from = min((page-1)*size, n)
	return from, min(from+size, n)
}

// SetPosition adds the write's position in context's log to the response's
// Acme-Position token (call it on every 2xx response to a command).
func SetPosition(w http.ResponseWriter, context string, position int64) {
	tok := ParsePosition(w.Header().Get("Acme-Position"))
	if tok == nil {
		tok = Position{}
	}
	if position > tok[context] {
		tok[context] = position
	}
	w.Header().Set("Acme-Position", tok.String())
}

// Position is a consistency token: for each context, a position in its log.
type Position map[string]int64

// String encodes the token: "catalog:12,inventory:7" (opaque to clients).
func (p Position) String() string {
	parts := make([]string, 0, len(p))
	for k, v := range p {
		parts = append(parts, k+":"+strconv.FormatInt(v, 10))
	}
	sortStrings(parts)
	return strings.Join(parts, ",")
}

// ParsePosition decodes a token; nil when s is empty or malformed.
func ParsePosition(s string) Position {
	if s == "" {
		return nil
	}
	p := Position{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, ":")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || k == "" || err != nil || n < 0 {
			return nil
		}
		p[k] = n
	}
	return p
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
