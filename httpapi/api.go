package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"acme"
	"acme/es"
)

// Authenticator resolves a customer session token (implemented by customers).
type Authenticator interface {
	// Authenticate returns the customer id of a live session token, or ok=false.
	Authenticate(ctx context.Context, token string) (customerID string, ok bool, err error)
}

// Awaiter waits until the named read models reflect a consistency token
// (implemented by the platform's projection and consumer runners).
type Awaiter interface {
	// Await returns nil once every read model in reads has applied, for each
	// context in pos, the events up to that context's position. It returns
	// ctx.Err() (wrapped) when ctx is done first; the API turns that into 503
	// stale_read_model. An unknown read-model name is an error (500).
	Await(ctx context.Context, pos Position, reads []string) error
}

// HeadAwaiter is an Awaiter that also knows the head of a context's log (when
// this process runs that context): CatchUp needs it.
type HeadAwaiter interface {
	Awaiter
	Head(ctx context.Context, contextName string) (pos int64, ok bool, err error)
}

// Route describes one registered route, for the OpenAPI document.
type Route struct {
	Pattern  string // "POST /api/v1/cart/items"
	Role     Role   // the least role that may call it
	Summary  string
	Request  any // a sample request body value (nil for none)
	Response any // a sample response body value
	Status   int // success status (default 200)
	Reads    []string
	// CommandReads are the asynchronous read models a command's checks read;
	// its handler honours Acme-Min-Position for them (AwaitMinPosition).
	CommandReads []string
	// Raw marks an operational route registered with HandleHTTP (no JSON
	// envelope, no auth): /healthz, /metrics, ...
	Raw         bool
	ContentType string // response content type of a Raw route
	// NoBody marks a command without a body: a body sent anyway must be empty
	// or an empty JSON object (malformed JSON or a field is 400 bad_request,
	// as on every route; it is not ignored).
	NoBody bool
	// OptionalBody marks a Request body the client may leave out (the
	// handler reads it with DecodeOptional).
	OptionalBody bool
	// Fails documents failures beyond those every route of its kind has
	// (status → description), e.g. a 404 on a route without a path id.
	Fails map[int]string
	// Query documents the query parameters (page and pageSize of a route
	// returning a List are documented without it).
	Query []QueryParam
}

// QueryParam documents one query parameter.
type QueryParam struct {
	Name        string
	Type        string // JSON Schema type: "string", "integer", "number", "boolean"
	Format      string // optional: "uuid", "date-time"
	Description string
}

// RouteOption sets a part of a Route's documentation or behaviour.
type RouteOption func(*Route)

// Summary documents what the route does.
func Summary(s string) RouteOption { return func(r *Route) { r.Summary = s } }

// Body documents the request body type (pass a zero value of it).
func Body(v any) RouteOption { return func(r *Route) { r.Request = v } }

// Fails documents a failure status the route answers beyond the usual ones.
func Fails(status int, description string) RouteOption {
	return func(r *Route) {
		if r.Fails == nil {
			r.Fails = map[int]string{}
		}
		r.Fails[status] = description
	}
}

// OptionalBody documents a request body the client may leave out: no body is
// read as the zero value (see DecodeOptional).
func OptionalBody(v any) RouteOption {
	return func(r *Route) { r.Request, r.OptionalBody = v, true }
}

// NoBody marks a command route that takes no body (see Route.NoBody).
func NoBody() RouteOption { return func(r *Route) { r.NoBody = true } }

// Returns documents the success status and response body type.
func Returns(status int, v any) RouteOption {
	return func(r *Route) { r.Status, r.Response = status, v }
}

// Query documents a query parameter of the route.
func Query(name, typ, description string) RouteOption {
	return func(r *Route) { r.Query = append(r.Query, QueryParam{Name: name, Type: typ, Description: description}) }
}

// QueryFormat documents a query parameter with a format (uuid, date-time).
func QueryFormat(name, typ, format, description string) RouteOption {
	return func(r *Route) {
		r.Query = append(r.Query, QueryParam{Name: name, Type: typ, Format: format, Description: description})
	}
}

// Reads names the asynchronous read models (consumer or projection names) a GET
// serves from; with Acme-Min-Position the request waits for them.
func Reads(names ...string) RouteOption {
	return func(r *Route) { r.Reads = append(r.Reads, names...) }
}

// CommandReads documents that a command honours Acme-Min-Position for the
// asynchronous read models its checks read (its handler calls
// AwaitMinPosition).
func CommandReads(names ...string) RouteOption {
	return func(r *Route) { r.CommandReads = append(r.CommandReads, names...) }
}

// API is the router of the public HTTP API.
//
// Every request goes through ServeHTTP: panic recovery (500 problem+json and a
// metric), a correlation id (X-Correlation-Id, or a generated one) put into the
// event metadata, request logging with log/slog, HTTP metrics by route pattern
// and status, and problem+json for the mux's own 404 and 405. Routes registered
// with Handle also get: bearer-token authentication (a present but invalid token
// is 401 even on anonymous routes), the role check, Acme-Min-Position waits on
// GET, and Idempotency-Key handling on POST.
type API struct {
	mux    *http.ServeMux
	routes []Route
	// AdminToken is the bearer token of the built-in admin.
	AdminToken string
	// Auth resolves customer tokens (nil: only admin and anonymous).
	Auth Authenticator
	// Awaiter serves Acme-Min-Position (nil: reads never wait).
	Awaiter Awaiter
	// Idempotency stores POST responses by caller and Idempotency-Key (nil: an
	// in-memory store, fine for a single process and tests).
	Idempotency IdempotencyStore
	// Logger logs every request (nil: slog.Default()).
	Logger *slog.Logger
	// Contexts are the names that may appear in an Acme-Position token (the
	// contexts of the build); a token naming another is 400 (nil: any name).
	Contexts []string
	// MinPositionWait bounds an Acme-Min-Position wait (default 5 s).
	MinPositionWait time.Duration

	metrics *Metrics
	memIdem IdempotencyStore

	drainOnce sync.Once
	draining  chan struct{}
}

// New returns an API with an empty mux.
func New(adminToken string) *API {
	return &API{mux: http.NewServeMux(), AdminToken: adminToken, metrics: newMetrics(), memIdem: NewMemoryIdempotency(),
		draining: make(chan struct{})}
}

// Drain tells long-polling handlers to answer now: the server is shutting
// down (http.Server.Shutdown waits for requests in flight). Safe to call more
// than once.
func (a *API) Drain() { a.drainOnce.Do(func() { close(a.draining) }) }

// Draining is closed once Drain was called.
func (a *API) Draining() <-chan struct{} { return a.draining }

// Routes returns every registered route.
func (a *API) Routes() []Route { return a.routes }

// Mux returns the underlying ServeMux. Prefer HandleHTTP, which also documents
// the route; a pattern registered on the mux directly is not in the OpenAPI
// document (and the document test fails).
func (a *API) Mux() *http.ServeMux { return a.mux }

// HandleHTTP registers an operational route (no auth, no JSON envelope) and
// documents it: /healthz, /readyz, /metrics.
func (a *API) HandleHTTP(pattern, summary, contentType string, h http.Handler) {
	a.routes = append(a.routes, Route{Pattern: pattern, Role: Anonymous, Summary: summary, Status: http.StatusOK, Raw: true, ContentType: contentType})
	a.mux.Handle(pattern, h)
}

// Handle registers h at pattern (net/http ServeMux syntax with method) for callers
// of at least role min. A caller below min gets 401 (no valid token) or 403.
func (a *API) Handle(pattern string, min Role, h HandlerFunc, opts ...RouteOption) {
	rt := Route{Pattern: pattern, Role: min, Status: http.StatusOK}
	for _, o := range opts {
		o(&rt)
	}
	a.routes = append(a.routes, rt)
	wildcards := pathWildcards(pattern)
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		lowerIDs(r, wildcards)
		c, err := a.authenticate(r)
		if err != nil {
			if min > Anonymous || acme.ErrorCode(err) != acme.CodeUnauthorized {
				WriteError(w, r, err)
				return
			}
			// a public route needs no token: a stale or unknown one (a client
			// still sending it after signing out) is not a reason to refuse
			c = Caller{Role: Anonymous}
		}
		ctx := WithCaller(r.Context(), c)
		md := es.MetadataFrom(ctx)
		md.Actor = c.Actor()
		if md.CausationID == "" {
			// what a command over HTTP causes is caused by the request, known
			// by its correlation id
			md.CausationID = md.CorrelationID
		}
		ctx = es.WithMetadata(ctx, md)
		if info := infoFrom(ctx); info != nil {
			info.actor = md.Actor
		}
		r = r.WithContext(ctx)
		if c.Role < min {
			if c.Role == Anonymous {
				WriteError(w, r, acme.Errorf(acme.CodeUnauthorized, "a valid bearer token is required"))
			} else {
				WriteError(w, r, acme.Errorf(acme.CodeForbidden, "your role may not do this"))
			}
			return
		}
		if r.ContentLength > MaxBody { // every route, whether or not it reads its body
			WriteError(w, r, acme.Errorf(acme.CodePayloadTooLarge, "the body is larger than %d bytes", MaxBody))
			return
		}
		if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") && r.ContentLength != 0 {
			// a compressed body would otherwise be read as malformed JSON
			w.Header().Set("Accept-Encoding", "identity")
			WriteError(w, r, acme.Errorf(acme.CodeUnsupportedEncoding, "Content-Encoding %q is not accepted: send the body uncompressed", ce))
			return
		}
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			// r.URL.Query() would drop the malformed pair and answer as if
			// the parameter had not been sent
			WriteError(w, r, acme.Invalid(acme.FieldError{Field: "query", Message: "is malformed: " + err.Error()}))
			return
		}
		if rt.NoBody {
			if err := noBody(r); err != nil {
				WriteError(w, r, err)
				return
			}
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if err := a.awaitMinPosition(r, rt.Reads); err != nil {
				WriteError(w, r, err)
				return
			}
		}
		run := func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				WriteError(w, r, err)
			}
		}
		if r.Method == http.MethodPost {
			a.idempotent(w, r, c, run)
			return
		}
		run(w, r)
	})
}

// authenticate resolves the caller from the Authorization header: none is
// anonymous; "Bearer <admin token>" is the admin; any other bearer token must
// be a live customer session, else 401 (on a route that needs a token; a
// public route then serves the caller as anonymous).
func (a *API) authenticate(r *http.Request) (Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Caller{Role: Anonymous}, nil
	}
	if len(r.Header.Values("Authorization")) > 1 {
		// which one is meant is a guess: the first may not be the caller's
		return Caller{}, acme.Errorf(acme.CodeUnauthorized, "send one Authorization header, not several")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return Caller{}, acme.Errorf(acme.CodeUnauthorized, "the Authorization header must be \"Bearer <token>\"")
	}
	if a.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(a.AdminToken)) == 1 {
		return Caller{Role: Admin}, nil
	}
	if a.Auth != nil {
		id, ok, err := a.Auth.Authenticate(r.Context(), tok)
		if err != nil {
			return Caller{}, err
		}
		if ok {
			return Caller{Role: Customer, CustomerID: id}, nil
		}
	}
	return Caller{}, acme.Errorf(acme.CodeUnauthorized, "the bearer token is not valid or has expired")
}

// CatchUpWait bounds a CatchUp: long enough for a read model a few
// milliseconds behind, short enough that a refusal under a backlog is not
// held long.
const CatchUpWait = time.Second

// CatchUp waits, up to CatchUpWait, until the read models reads (of events of
// context source) have applied everything source had committed when it was
// called. A command about to answer "not found" from such a read model calls
// it and looks again, so a thing created just before (without the client
// sending Acme-Min-Position) is found. It reports whether to look again:
//   - true once the read models caught up;
//   - false with a nil error when there is nothing to wait for (source does
//     not run in this process, no awaiter): the caller answers as it would have;
//   - a 503 stale_read_model error when they did not catch up in time, or
//     when that could not be checked (source's head or the bus unreadable): a
//     refusal resting on a read model that may be behind is not given (nor
//     stored under an Idempotency-Key, which keeps no 5xx); the client retries.
func (a *API) CatchUp(ctx context.Context, source string, reads ...string) (bool, error) {
	ha, ok := a.Awaiter.(HeadAwaiter)
	if !ok {
		return false, nil
	}
	wctx, cancel := context.WithTimeout(ctx, CatchUpWait) // the head's read too
	defer cancel()
	head, ok, err := ha.Head(wctx, source)
	if err == nil && !ok {
		return false, nil
	}
	if err == nil {
		err = ha.Await(wctx, Position{source: head}, reads)
	}
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err() // the client is gone
	default:
		return false, acme.Errorf(acme.CodeStaleReadModel, "the read models this answer rests on are behind %s's events; retry later", source)
	}
}

// AwaitMinPosition serves Acme-Min-Position for a command whose checks read
// the asynchronous read models reads (a GET route's Reads are served before
// its handler runs): see awaitMinPosition.
func (a *API) AwaitMinPosition(r *http.Request, reads ...string) error {
	return a.awaitMinPosition(r, reads)
}

// awaitMinPosition serves Acme-Min-Position: a malformed token is 400; a route
// without asynchronous read models answers at once (its reads are inline, so a
// 2xx command response already reflects them).
func (a *API) awaitMinPosition(r *http.Request, reads []string) error {
	raw := r.Header.Get("Acme-Min-Position")
	if raw == "" {
		return nil
	}
	pos := ParsePosition(raw)
	for name := range pos {
		if a.Contexts != nil && !slices.Contains(a.Contexts, name) {
			pos = nil
			break
		}
	}
	if pos == nil {
		return acme.Errorf(acme.CodeBadRequest, "Acme-Min-Position is not a token this API issued")
	}
	if len(reads) == 0 || a.Awaiter == nil {
		return nil
	}
	wait := a.MinPositionWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	if err := a.Awaiter.Await(ctx, pos, reads); err != nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			return acme.Errorf(acme.CodeStaleReadModel, "the read models did not reach the requested position within %s; retry later", wait)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return acme.Errorf(acme.CodeStaleReadModel, "the read models did not reach the requested position; retry later")
		}
		return err
	}
	return nil
}

// pathWildcards returns the names of pattern's {name} and {name...} segments.
func pathWildcards(pattern string) []string {
	var names []string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(strings.Trim(seg, "{}"), "..."))
		}
	}
	return names
}

// lowerIDs writes the path values that are UUIDs in upper or mixed case in
// lower case, the form every id is stored in (RFC 9562: UUIDs compare without
// regard to case).
func lowerIDs(r *http.Request, names []string) {
	for _, n := range names {
		v := r.PathValue(n)
		if l := acme.NormalizeID(v); l != v {
			r.SetPathValue(n, l)
		}
	}
}

// noBody checks the body of a route that takes none: nothing, or an empty
// JSON object. It puts the body back for the idempotency layer.
func noBody(r *http.Request) error {
	data, err := bodyIfAny(r)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	if data == nil {
		return nil
	}
	if err := DecodeBytes(data, &struct{}{}); err != nil {
		var ae *acme.Error
		if errors.As(err, &ae) {
			return acme.Errorf(ae.Code, "this request takes no body (or {}): %s", ae.Message)
		}
		return err
	}
	return nil
}
