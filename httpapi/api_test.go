package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
	"acme/sqlite"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeAuth map[string]string

func (f fakeAuth) Authenticate(_ context.Context, tok string) (string, bool, error) {
	id, ok := f[tok]
	return id, ok, nil
}

type createReq struct {
	Name string `json:"name"`
}
type createResp struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// newAPI returns an API with a counting POST route and a few probes.
func newAPI(t *testing.T) (*httpapi.API, *atomic.Int64) {
	t.Helper()
	api := httpapi.New("admin-secret")
	api.Auth = fakeAuth{"cust-tok": "c1", "cust-tok-2": "c2"}
	var n atomic.Int64
	api.Handle("POST /api/v1/things", httpapi.Customer, func(w http.ResponseWriter, r *http.Request) error {
		var req createReq
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // widen the race window of concurrent duplicates
		k := n.Add(1)
		id := "thing-" + string(rune('0'+k))
		w.Header().Set("Location", "/api/v1/things/"+id)
		httpapi.SetPosition(w, "things", k)
		return httpapi.JSON(w, 201, createResp{ID: id, Name: req.Name})
	}, httpapi.Body(createReq{}), httpapi.Returns(201, createResp{}))
	api.Handle("GET /api/v1/things/{id}", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		md := es.MetadataFrom(r.Context())
		return httpapi.JSON(w, 200, map[string]string{"id": r.PathValue("id"), "actor": md.Actor, "correlationId": md.CorrelationID})
	}, httpapi.Reads("things.view"))
	api.Handle("GET /api/v1/admin/boom", httpapi.Admin, func(w http.ResponseWriter, r *http.Request) error {
		panic("boom")
	})
	api.Handle("POST /api/v1/fail", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		n.Add(1)
		return io.ErrUnexpectedEOF
	})
	return api, &n
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, h http.Handler, method, path, token, body string, hdr ...string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	res := result{status: w.Code, header: w.Header(), raw: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &res.body)
	return res
}

func (r result) want(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if code != "" {
		if r.body["code"] != code {
			t.Fatalf("code %v, want %s: %s", r.body["code"], code, r.raw)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("content type %q", ct)
		}
	}
}

func TestAuth(t *testing.T) {
	api, _ := newAPI(t)
	do(t, api, "POST", "/api/v1/things", "", `{"name":"a"}`).want(t, 401, "unauthorized")
	do(t, api, "POST", "/api/v1/things", "wrong", `{"name":"a"}`).want(t, 401, "unauthorized")
	do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"a"}`).want(t, 201, "")
	do(t, api, "POST", "/api/v1/things", "admin-secret", `{"name":"a"}`).want(t, 201, "")
	do(t, api, "GET", "/api/v1/admin/boom", "cust-tok", "").want(t, 403, "forbidden")
	// a public route needs no token: an invalid one is served as anonymous
	if r := do(t, api, "GET", "/api/v1/things/x", "wrong", ""); r.status != 200 || r.body["actor"] != "anonymous" {
		t.Fatalf("a public route with an invalid token: %d %v", r.status, r.body)
	}
	do(t, api, "GET", "/api/v1/things/x", "", "", "Authorization", "Basic abc").want(t, 200, "")
	do(t, api, "POST", "/api/v1/things", "", `{"name":"a"}`, "Authorization", "Basic abc").want(t, 401, "unauthorized")
	if r := do(t, api, "POST", "/api/v1/things", "", `{"name":"a"}`); r.header.Get("WWW-Authenticate") != `Bearer realm="acme"` {
		t.Fatalf("a 401 without WWW-Authenticate: %v", r.header)
	}
	// two Authorization headers: which one is the caller's is a guess
	two := httptest.NewRequest("POST", "/api/v1/things", strings.NewReader(`{"name":"a"}`))
	two.Header.Add("Authorization", "Bearer admin-secret")
	two.Header.Add("Authorization", "Bearer cust-tok")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, two)
	if w.Code != 401 {
		t.Fatalf("two Authorization headers: %d %s", w.Code, w.Body)
	}
	r := do(t, api, "GET", "/api/v1/things/x", "cust-tok", "", "X-Correlation-Id", "corr-42")
	r.want(t, 200, "")
	if r.body["actor"] != "customer:c1" || r.body["correlationId"] != "corr-42" {
		t.Fatalf("metadata not set: %v", r.body)
	}
	r = do(t, api, "GET", "/api/v1/things/x", "", "")
	if r.body["actor"] != "anonymous" || r.body["correlationId"] == "" || r.header.Get("X-Correlation-Id") != r.body["correlationId"] {
		t.Fatalf("anonymous metadata: %v %v", r.body, r.header)
	}
}

func TestMuxErrorsAreProblems(t *testing.T) {
	api, _ := newAPI(t)
	do(t, api, "GET", "/api/v1/nothing", "", "").want(t, 404, "not_found")
	r := do(t, api, "DELETE", "/api/v1/things/x", "", "")
	r.want(t, 405, "method_not_allowed")
	if r.header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}
	// A path that is not clean is redirected to the clean one, with a problem body.
	r = do(t, api, "GET", "/api/v1//things/x", "", "")
	r.want(t, 307, "redirect")
	if r.header.Get("Location") != "/api/v1/things/x" {
		t.Fatalf("redirect to %q", r.header.Get("Location"))
	}
}

// TestMalformedQueryIs422: a query string that does not parse is refused, not
// read as if the broken parameter had not been sent.
func TestMalformedQueryIs422(t *testing.T) {
	api, _ := newAPI(t)
	for _, q := range []string{"q=%ZZ", "a=1;b=2", "%"} {
		do(t, api, "GET", "/api/v1/things/x?"+q, "", "").want(t, 422, "validation_failed")
	}
}

// A compressed body is refused as such, not misread as malformed JSON, and
// the refusal changes nothing.
func TestContentEncodingIs415(t *testing.T) {
	api, _ := newAPI(t)
	r := do(t, api, "POST", "/api/v1/things", "cust-tok", "\x1f\x8b\x08", "Content-Encoding", "gzip")
	r.want(t, 415, "unsupported_content_encoding")
	if got := r.header.Get("Accept-Encoding"); got != "identity" {
		t.Fatalf("Accept-Encoding %q, want identity", got)
	}
	do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"x"}`, "Content-Encoding", "identity").want(t, 201, "")
}

func TestPanicIs500AndCounted(t *testing.T) {
	api, _ := newAPI(t)
	do(t, api, "GET", "/api/v1/admin/boom", "admin-secret", "").want(t, 500, "internal")
	do(t, api, "GET", "/api/v1/things/ok", "", "").want(t, 200, "") // still serving
	if got := testutil.ToFloat64(api.Collectors()[2]); got != 1 {
		t.Fatalf("panics counter = %v, want 1", got)
	}
	if got := testutil.CollectAndCount(api.Collectors()[0]); got != 2 {
		t.Fatalf("request series = %d, want 2 (one per route and status)", got)
	}
}

func TestBodyErrors(t *testing.T) {
	api, _ := newAPI(t)
	do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":1}`).want(t, 400, "bad_request")
	do(t, api, "POST", "/api/v1/things", "cust-tok", `{"nam":"x"}`).want(t, 400, "bad_request")
	do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"x"} x`).want(t, 400, "bad_request")
	// a name given twice: which value was meant is a guess
	do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"x","name":"y"}`).want(t, 400, "bad_request")
	// a wrong type is described as JSON, not as a Go type
	if r := do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":1}`); !strings.Contains(r.raw, `must be a string, not number`) {
		t.Fatalf("type error: %s", r.raw)
	}
	big := `{"name":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`
	do(t, api, "POST", "/api/v1/things", "cust-tok", big).want(t, 413, "payload_too_large")
	do(t, api, "POST", "/api/v1/things", "cust-tok", big, "Idempotency-Key", "k").want(t, 413, "payload_too_large")
	// A route that reads no body refuses an oversized one too (its Content-Length says so).
	do(t, api, "POST", "/api/v1/fail", "", big).want(t, 413, "payload_too_large")
	do(t, api, "POST", "/api/v1/things", "cust-tok", `{"NAME":"x"}`).want(t, 400, "bad_request")
	do(t, api, "POST", "/api/v1/things", "cust-tok", `null`).want(t, 400, "bad_request")
}

// A command without a body takes none, {} or whitespace; malformed JSON or a
// field is 400, and the command does not run.
func TestNoBody(t *testing.T) {
	api := httpapi.New("admin-secret")
	var n atomic.Int64
	api.Handle("POST /api/v1/things/{id}/approve", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		n.Add(1)
		return httpapi.JSON(w, 200, map[string]int64{"n": n.Load()})
	}, httpapi.NoBody())
	for _, body := range []string{"", "{}", " { } ", "\n"} {
		do(t, api, "POST", "/api/v1/things/1/approve", "", body).want(t, 200, "")
	}
	for _, body := range []string{"{{{{", "hello", `{"x":1}`, "[1,2]", `"x"`, "null", "{} {}", "\xff"} {
		do(t, api, "POST", "/api/v1/things/1/approve", "", body).want(t, 400, "bad_request")
	}
	if got := n.Load(); got != 4 {
		t.Fatalf("the command ran %d times, want 4", got)
	}
	// the idempotency layer still sees the (empty) body: a repeat is a replay
	first := do(t, api, "POST", "/api/v1/things/1/approve", "", "{}", "Idempotency-Key", "k1")
	again := do(t, api, "POST", "/api/v1/things/1/approve", "", "{}", "Idempotency-Key", "k1")
	if first.status != 200 || again.header.Get("Idempotent-Replayed") != "true" || again.raw != first.raw {
		t.Fatalf("replay: %d %q / %q %v", first.status, first.raw, again.raw, again.header)
	}
}

// TestOptionalBody: a route whose body may be left out reads no body, a blank
// one or {} as the zero value; anything malformed is still 400 and the
// OpenAPI marks the body as not required.
func TestOptionalBody(t *testing.T) {
	api := httpapi.New("admin-secret")
	type cancel struct {
		Reason string `json:"reason"`
	}
	api.Handle("POST /api/v1/things/{id}/cancel", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		req := cancel{Reason: "DEFAULT"}
		if err := httpapi.DecodeOptional(r, &req); err != nil {
			return err
		}
		return httpapi.JSON(w, 200, req)
	}, httpapi.OptionalBody(cancel{}))
	for body, want := range map[string]string{"": "DEFAULT", " \n": "DEFAULT", "{}": "DEFAULT", `{"reason":"late"}`: "late"} {
		got := do(t, api, "POST", "/api/v1/things/1/cancel", "", body)
		if got.want(t, 200, ""); got.body["reason"] != want {
			t.Fatalf("body %q: reason %v, want %s", body, got.body["reason"], want)
		}
	}
	for _, body := range []string{"{{", `{"x":1}`, "[1]", "null"} {
		do(t, api, "POST", "/api/v1/things/1/cancel", "", body).want(t, 400, "bad_request")
	}
	doc, _ := json.Marshal(api.OpenAPI(httpapiInfo))
	var d struct {
		Paths map[string]map[string]struct {
			RequestBody struct{ Required bool } `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.Paths["/api/v1/things/{id}/cancel"]["post"].RequestBody.Required {
		t.Fatalf("the optional body is documented as required (%v)", err)
	}
}

func idempotencyStores(t *testing.T) map[string]func() httpapi.IdempotencyStore {
	return map[string]func() httpapi.IdempotencyStore{
		"memory": httpapi.NewMemoryIdempotency,
		"sqlite": func() httpapi.IdempotencyStore {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "http.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(context.Background(), "http", httpapi.IdempotencyMigrations()); err != nil {
				t.Fatal(err)
			}
			return &httpapi.SQLIdempotency{DB: st.DB()}
		},
	}
}

func TestIdempotency(t *testing.T) {
	for name, mk := range idempotencyStores(t) {
		t.Run(name, func(t *testing.T) {
			api, n := newAPI(t)
			api.Idempotency = mk()
			first := do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"a"}`, "Idempotency-Key", "key-1")
			first.want(t, 201, "")
			again := do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"a"}`, "Idempotency-Key", "key-1")
			again.want(t, 201, "")
			if n.Load() != 1 {
				t.Fatalf("handler ran %d times, want 1", n.Load())
			}
			if again.raw != first.raw || again.header.Get("Location") != first.header.Get("Location") ||
				again.header.Get("Acme-Position") != first.header.Get("Acme-Position") || again.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay differs:\n%v %s\n%v %s", first.header, first.raw, again.header, again.raw)
			}
			// the same JSON written otherwise is the same request
			do(t, api, "POST", "/api/v1/things", "cust-tok", " {\"name\" :\n \"a\"}\n", "Idempotency-Key", "key-1").want(t, 201, "")
			if n.Load() != 1 {
				t.Fatalf("a re-serialised body ran the handler again")
			}
			// same key, different body
			do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"b"}`, "Idempotency-Key", "key-1").want(t, 422, "idempotency_key_reused")
			// same key, another caller: its own scope
			do(t, api, "POST", "/api/v1/things", "cust-tok-2", `{"name":"a"}`, "Idempotency-Key", "key-1").want(t, 201, "")
			if n.Load() != 2 {
				t.Fatalf("handler ran %d times, want 2", n.Load())
			}
			// bad keys
			do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"a"}`, "Idempotency-Key", "").want(t, 422, "validation_failed")
			do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"a"}`, "Idempotency-Key", strings.Repeat("k", 256)).want(t, 422, "validation_failed")
			do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"a"}`, "Idempotency-Key", strings.Repeat("k", 255)).want(t, 201, "")
			// a 5xx is not stored: the key may be retried
			before := n.Load()
			do(t, api, "POST", "/api/v1/fail", "", `{}`, "Idempotency-Key", "f").want(t, 500, "internal")
			do(t, api, "POST", "/api/v1/fail", "", `{}`, "Idempotency-Key", "f").want(t, 500, "internal")
			if n.Load() != before+2 {
				t.Fatalf("a failed request was not retried")
			}
		})
	}
}

func TestIdempotencyConcurrentDuplicates(t *testing.T) {
	for name, mk := range idempotencyStores(t) {
		t.Run(name, func(t *testing.T) {
			api, n := newAPI(t)
			api.Idempotency = mk()
			var wg sync.WaitGroup
			bodies := make([]string, 8)
			for i := range bodies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := do(t, api, "POST", "/api/v1/things", "cust-tok", `{"name":"c"}`, "Idempotency-Key", "same")
					if r.status != 201 {
						t.Errorf("status %d: %s", r.status, r.raw)
					}
					bodies[i] = r.raw
				}()
			}
			wg.Wait()
			if n.Load() != 1 {
				t.Fatalf("handler ran %d times for one key, want 1", n.Load())
			}
			for _, b := range bodies {
				if b != bodies[0] {
					t.Fatalf("different responses: %q vs %q", b, bodies[0])
				}
			}
		})
	}
}

type fakeAwaiter struct {
	reached bool
	got     httpapi.Position
	reads   []string
}

func (f *fakeAwaiter) Await(ctx context.Context, pos httpapi.Position, reads []string) error {
	f.got, f.reads = pos, reads
	if f.reached {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestMinPosition(t *testing.T) {
	api, _ := newAPI(t)
	aw := &fakeAwaiter{reached: true}
	api.Awaiter = aw
	api.MinPositionWait = 50 * time.Millisecond
	do(t, api, "GET", "/api/v1/things/x", "", "", "Acme-Min-Position", "garbage").want(t, 400, "bad_request")
	do(t, api, "GET", "/api/v1/things/x", "", "", "Acme-Min-Position", "things:7").want(t, 200, "")
	if aw.got["things"] != 7 || len(aw.reads) != 1 || aw.reads[0] != "things.view" {
		t.Fatalf("awaited %v %v", aw.got, aw.reads)
	}
	aw.reached = false
	do(t, api, "GET", "/api/v1/things/x", "", "", "Acme-Min-Position", "things:8").want(t, 503, "stale_read_model")
}

func TestErrorTableKnowsSharedCodes(t *testing.T) {
	for _, c := range []string{acme.CodeBadRequest, acme.CodeValidationFailed, acme.CodeNotFound, acme.CodeUnauthorized,
		acme.CodeForbidden, acme.CodeConflict, acme.CodeInvalidTransition, acme.CodeIdempotencyKeyReused,
		acme.CodeStaleReadModel, acme.CodePayloadTooLarge, acme.CodeInternal} {
		if _, ok := httpapi.StatusOf(c); !ok {
			t.Errorf("code %s missing from the status table", c)
		}
	}
}

func TestIdempotencyPurge(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "http.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(context.Background(), "http", httpapi.IdempotencyMigrations()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &httpapi.SQLIdempotency{DB: st.DB(), Now: func() time.Time { return now }}
	ctx := context.Background()
	if state, _, _ := s.Claim(ctx, "anonymous", "old", "h"); state != httpapi.Claimed {
		t.Fatal("not claimed")
	}
	_ = s.Complete(ctx, "anonymous", "old", httpapi.StoredResponse{Status: 201, Body: []byte("{}")})
	now = now.Add(25 * time.Hour)
	if state, _, _ := s.Claim(ctx, "anonymous", "new", "h"); state != httpapi.Claimed {
		t.Fatal("not claimed")
	}
	n, err := s.Purge(ctx, httpapi.Retention)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if state, _, _ := s.Claim(ctx, "anonymous", "old", "other"); state != httpapi.Claimed {
		t.Fatal("an expired key is not free again")
	}
	if state, _, _ := s.Claim(ctx, "anonymous", "new", "other"); state != httpapi.Mismatched {
		t.Fatal("a live key was purged")
	}
}

func TestTraceParentIsValidated(t *testing.T) {
	for tp, want := range map[string]bool{
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01":        true,
		"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future": true,
		"": false,
		"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01":   false,
		"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01":   false,
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x":  false,
		"00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01":   false,
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033\xff-01": false,
	} {
		if got := httpapi.ValidTraceParent(tp); got != want {
			t.Errorf("%q: %v, want %v", tp, got, want)
		}
	}
}

// headAwaiter is a HeadAwaiter whose read model catches up (applies the
// pending thing) only when allowed to; inProcess false: the source context
// does not run here.
type headAwaiter struct {
	inProcess bool
	catchUp   atomic.Bool
	applied   *atomic.Bool
	awaited   atomic.Int64
}

func (h *headAwaiter) Head(ctx context.Context, name string) (int64, bool, error) {
	return 9, h.inProcess, nil
}

func (h *headAwaiter) Await(ctx context.Context, pos httpapi.Position, reads []string) error {
	h.awaited.Add(1)
	if pos["things"] != 9 || len(reads) != 1 || reads[0] != "things.view" {
		return fmt.Errorf("awaited %v %v", pos, reads)
	}
	if !h.catchUp.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	h.applied.Store(true)
	return nil
}

// A command about to refuse on a read model lets it catch up first and looks
// again; when it does not catch up in time the answer is 503 stale_read_model,
// which an Idempotency-Key does not keep (the retry is answered afresh).
func TestCatchUpBeforeRefusal(t *testing.T) {
	api, _ := newAPI(t)
	var applied atomic.Bool
	aw := &headAwaiter{inProcess: true, applied: &applied}
	api.Awaiter = aw
	api.Handle("POST /api/v1/lookups", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		if !applied.Load() {
			again, err := api.CatchUp(r.Context(), "things", "things.view")
			if err != nil {
				return err
			}
			if !again || !applied.Load() {
				return acme.Errorf(acme.CodeNotFound, "no such thing")
			}
		}
		return httpapi.JSON(w, 200, map[string]bool{"found": true})
	})

	start := time.Now()
	res := do(t, api, "POST", "/api/v1/lookups", "", "", "Idempotency-Key", "k1")
	res.want(t, 503, "stale_read_model")
	if res.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if d := time.Since(start); d < httpapi.CatchUpWait {
		t.Fatalf("gave up after %s, before CatchUpWait", d)
	}
	aw.catchUp.Store(true)
	do(t, api, "POST", "/api/v1/lookups", "", "", "Idempotency-Key", "k1").want(t, 200, "")

	// The source context does not run in this process: nothing to wait for,
	// the refusal is given at once.
	applied.Store(false)
	aw.inProcess, aw.catchUp = false, atomic.Bool{}
	before := aw.awaited.Load()
	do(t, api, "POST", "/api/v1/lookups", "", "", "Idempotency-Key", "k2").want(t, 404, "not_found")
	if aw.awaited.Load() != before {
		t.Fatal("awaited a context that does not run here")
	}
}

// A command that lost every retry against concurrent writers is 409 conflict
// with Retry-After, and an Idempotency-Key does not keep it: the retry runs.
func TestLostRaceIsARetryableConflict(t *testing.T) {
	api, _ := newAPI(t)
	var calls atomic.Int64
	api.Handle("POST /api/v1/contended", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		if calls.Add(1) == 1 {
			return fmt.Errorf("restock: %w", es.ErrConcurrency)
		}
		return httpapi.JSON(w, 200, map[string]bool{"ok": true})
	})
	res := do(t, api, "POST", "/api/v1/contended", "", "", "Idempotency-Key", "k")
	res.want(t, 409, "conflict")
	if res.header.Get("Retry-After") == "" {
		t.Fatal("409 conflict of a lost race without Retry-After")
	}
	do(t, api, "POST", "/api/v1/contended", "", "", "Idempotency-Key", "k").want(t, 200, "")
}

// A request whose client went away is logged and counted as 499, not as a
// server error, and its idempotency key stays free for the client's retry.
func TestClientGoneIs499(t *testing.T) {
	api := httpapi.New("admin-secret")
	var logs strings.Builder
	api.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	api.Idempotency = httpapi.NewMemoryIdempotency()
	var calls atomic.Int64
	api.Handle("POST /api/v1/slow", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		<-r.Context().Done()
		return r.Context().Err()
	})
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequest("POST", "/api/v1/slow", strings.NewReader(`{}`)).WithContext(ctx)
		req.Header.Set("Idempotency-Key", "k")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != httpapi.StatusClientClosed {
			t.Fatalf("status %d, want 499", w.Code)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("handler ran %d times, want 2 (the abandoned answer is not replayed)", calls.Load())
	}
	if got := testutil.ToFloat64(api.Collectors()[0].(*prometheus.CounterVec).WithLabelValues("POST /api/v1/slow", "POST", "499")); got != 2 {
		t.Fatalf("499s counted = %v, want 2", got)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("an abandoned request was logged as an error:\n%s", logs.String())
	}
}

// A client that announces a body and never sends it all gets a 400 (not a
// connection held open) once BodyReadTimeout has passed.
func TestUnfinishedBodyTimesOut(t *testing.T) {
	api, _ := newAPI(t)
	old := httpapi.BodyReadTimeout
	httpapi.BodyReadTimeout = 300 * time.Millisecond
	t.Cleanup(func() { httpapi.BodyReadTimeout = old })
	srv := httptest.NewServer(api)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("POST /api/v1/things HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cust-tok\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":"))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	reply, _ := io.ReadAll(conn)
	if time.Since(start) > 5*time.Second || !strings.HasPrefix(string(reply), "HTTP/1.1 4") {
		t.Fatalf("after %s: %q", time.Since(start), reply)
	}
}
