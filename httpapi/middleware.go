package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"acme"
	"acme/es"
)

// reqInfo is what the outer middleware learns about a request from the inner
// route handler (for the log line and the metrics).
type reqInfo struct {
	correlationID string
	actor         string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// CorrelationID returns the correlation id of the request ctx belongs to.
func CorrelationID(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.correlationID
	}
	return es.MetadataFrom(ctx).CorrelationID
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// muxErrorWriter turns the mux's own plain-text 404 and 405 into
// problem+json, and gives its redirects (to the clean path of a path such as
// /api/v1//products) a problem+json body instead of an HTML one.
type muxErrorWriter struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		m.swallow = true
		p := Problem{Status: code, Title: http.StatusText(code), Code: acme.CodeNotFound,
			Detail: fmt.Sprintf("no route for %s %s", m.r.Method, m.r.URL.Path)}
		if code == http.StatusMethodNotAllowed {
			p.Code = "method_not_allowed"
			p.Detail = fmt.Sprintf("%s is not allowed on %s; allowed: %s", m.r.Method, m.r.URL.Path, m.Header().Get("Allow"))
		}
		writeProblem(m.ResponseWriter, p)
		return
	}
	if code >= 300 && code < 400 && m.Header().Get("Location") != "" {
		m.swallow = true
		writeProblem(m.ResponseWriter, Problem{Status: code, Title: http.StatusText(code), Code: "redirect",
			Detail: fmt.Sprintf("%s is not a canonical path: the resource is at %s", m.r.URL.Path, m.Header().Get("Location"))})
		return
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.swallow {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

// BodyReadTimeout bounds the reading of a request's body: a client that
// announces a body and never sends it all does not hold the connection
// (slow headers are cut by the server's ReadHeaderTimeout).
var BodyReadTimeout = time.Minute

// ServeHTTP runs the middleware chain and dispatches to the route.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Body != nil && r.Body != http.NoBody {
		// Not supported by every ResponseWriter (httptest's recorder): then nothing to bound.
		_ = http.NewResponseController(w).SetReadDeadline(start.Add(BodyReadTimeout))
	}
	cid := r.Header.Get("X-Correlation-Id")
	if !validCorrelationID(cid) {
		cid = acme.NewID()
	}
	info := &reqInfo{correlationID: cid, actor: "anonymous"}
	md := es.MetadataFrom(r.Context())
	md.CorrelationID = cid
	if tp := r.Header.Get("traceparent"); ValidTraceParent(tp) {
		md.TraceParent = tp
	}
	ctx := es.WithMetadata(context.WithValue(r.Context(), infoKey{}, info), md)
	r = r.WithContext(ctx)
	w.Header().Set("X-Correlation-Id", cid)

	_, pattern := a.mux.Handler(r)
	route := pattern
	if route == "" {
		route = "unmatched"
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.metrics.panics.WithLabelValues(route).Inc()
			a.logger().ErrorContext(ctx, "panic in HTTP handler", "route", route, "panic", fmt.Sprint(v),
				"correlationId", cid, "stack", string(debug.Stack()))
			if sw.status == 0 {
				WriteError(sw, r, errors.New("panic"))
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		a.metrics.observe(route, r.Method, status, d)
		level := slog.LevelInfo
		switch {
		case status == http.StatusServiceUnavailable && route == "GET /readyz":
			// expected while starting and stopping
		case status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // a read model behind: the client retries
		case status >= 500:
			level = slog.LevelError
		}
		a.logger().Log(ctx, level, "http request", "method", r.Method, "path", r.URL.Path, "route", route,
			"status", status, "bytes", sw.bytes, "duration", d, "correlationId", cid, "actor", info.actor)
	}()
	if ep := r.URL.EscapedPath(); pattern == "" || cleanPath(ep) != ep { // the mux compares the escaped path
		// No route, or the mux's redirect to the clean path.
		a.mux.ServeHTTP(&muxErrorWriter{ResponseWriter: sw, r: r}, r)
		return
	}
	a.mux.ServeHTTP(sw, r)
}

// cleanPath is p as the mux serves it (path.Clean, keeping a trailing
// slash); the mux redirects any other path to it.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func (a *API) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// validCorrelationID accepts a client's id of 1-128 visible ASCII characters.
func validCorrelationID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func writeProblem(w http.ResponseWriter, p Problem) {
	p.Type = "https://acme.example/problems/" + p.Code
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.WriteHeader(p.Status)
	_ = jsonEncode(w, p)
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// ValidTraceParent: a W3C traceparent, "vv-<32 hex>-<16 hex>-ff" (lower-case
// hex; later versions may append fields after a dash). Anything else is
// not recorded in the events' metadata.
func ValidTraceParent(tp string) bool {
	if len(tp) < 55 || len(tp) > 128 || (len(tp) > 55 && tp[55] != '-') {
		return false
	}
	for i := range 55 {
		c := tp[i]
		switch i {
		case 2, 35, 52:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return tp[:2] != "ff"
}
