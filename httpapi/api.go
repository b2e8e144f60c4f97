package httpapi

import (
	"context"
	"net/http"

	"acme"
)

// Authenticator resolves a customer session token (implemented by customers).
type Authenticator interface {
	// Authenticate returns the customer id of a live session token, or ok=false.
	Authenticate(ctx context.Context, token string) (customerID string, ok bool, err error)
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
}

// RouteOption sets a part of a Route's documentation or behaviour.
type RouteOption func(*Route)

// Summary documents what the route does.
func Summary(s string) RouteOption { return func(r *Route) { r.Summary = s } }

// Body documents the request body type (pass a zero value of it).
func Body(v any) RouteOption { return func(r *Route) { r.Request = v } }

// Returns documents the success status and response body type.
func Returns(status int, v any) RouteOption {
	return func(r *Route) { r.Status, r.Response = status, v }
}

// Reads names the asynchronous read models (consumer or projection names) a GET
// serves from; with Acme-Min-Position the request waits for them.
func Reads(names ...string) RouteOption { return func(r *Route) { r.Reads = append(r.Reads, names...) } }

// API is the router of the public HTTP API.
type API struct {
	mux    *http.ServeMux
	routes []Route
	// AdminToken is the bearer token of the built-in admin.
	AdminToken string
	// Auth resolves customer tokens (nil: only admin and anonymous).
	Auth Authenticator
}

// New returns an API with an empty mux.
func New(adminToken string) *API {
	return &API{mux: http.NewServeMux(), AdminToken: adminToken}
}

// Routes returns every registered route.
func (a *API) Routes() []Route { return a.routes }

// Mux returns the underlying ServeMux (for non-API routes such as /healthz).
func (a *API) Mux() *http.ServeMux { return a.mux }

// Handle registers h at pattern (net/http ServeMux syntax with method) for callers
// of at least role min. A caller below min gets 401 (no valid token) or 403.
func (a *API) Handle(pattern string, min Role, h HandlerFunc, opts ...RouteOption) {
	rt := Route{Pattern: pattern, Role: min, Status: http.StatusOK}
	for _, o := range opts {
		o(&rt)
	}
	a.routes = append(a.routes, rt)
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := CallerFrom(r.Context())
		if c.Role < min {
			if c.Role == Anonymous {
				WriteError(w, r, acme.Errorf(acme.CodeUnauthorized, "a valid bearer token is required"))
			} else {
				WriteError(w, r, acme.Errorf(acme.CodeForbidden, "your role may not do this"))
			}
			return
		}
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
}

// ServeHTTP authenticates the caller and dispatches to the route.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}
