package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"acme"
	"acme/es"
)

// StoredResponse is a response kept for an Idempotency-Key.
type StoredResponse struct {
	Status  int
	Headers map[string]string // Content-Type, Location, Acme-Position
	Body    []byte
}

// ClaimState is the outcome of IdempotencyStore.Claim.
type ClaimState int

const (
	Claimed    ClaimState = iota // the caller runs the request, then Complete or Release
	Done                         // a response is stored for this key (same request)
	InFlight                     // the same request is running elsewhere
	Mismatched                   // the key was used with another request
)

// IdempotencyStore keeps POST responses by (scope, key). Claim must be atomic
// across every process sharing the store: of two concurrent claims of one key,
// exactly one gets Claimed.
type IdempotencyStore interface {
	// Claim reserves (scope, key) for a request whose hash is hash, or reports
	// why it cannot: Done (with the stored response), InFlight or Mismatched.
	Claim(ctx context.Context, scope, key, hash string) (ClaimState, StoredResponse, error)
	// Complete stores the response of a claimed key.
	Complete(ctx context.Context, scope, key string, resp StoredResponse) error
	// Release forgets a claim whose request failed without effect (5xx), so a
	// retry runs again.
	Release(ctx context.Context, scope, key string) error
}

// keptHeaders are the response headers replayed for a repeated request.
var keptHeaders = []string{"Content-Type", "Location", "Acme-Position"}

// canonicalJSON is body with its insignificant whitespace and key order taken
// out, so a retry that re-serialises the same request still matches; a body
// that is not JSON is compared as it is.
func canonicalJSON(body []byte) []byte {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber() // numbers keep their text: 1 and 1.0 stay different requests
	var v any
	if err := d.Decode(&v); err != nil {
		return body
	}
	if _, err := d.Token(); err != io.EOF { // trailing data: compared as it is
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// idempotent runs a POST under its Idempotency-Key (if it has one): the first
// request runs and its response (status, kept headers, body) is stored per
// caller and key; a repeat with the same body gets that response again
// (with Idempotent-Replayed: true) and has no second effect; a repeat with
// another method, path or body (compared as JSON: whitespace and key order
// aside) is 422 idempotency_key_reused; a repeat while
// the first still runs waits for it (up to 10 s, then 409 conflict). A 5xx
// response is not stored: the key may be retried.
func (a *API) idempotent(w http.ResponseWriter, r *http.Request, c Caller, run func(http.ResponseWriter, *http.Request)) {
	vals, has := r.Header["Idempotency-Key"]
	if !has {
		run(w, r)
		return
	}
	key := ""
	if len(vals) > 0 {
		key = vals[0]
	}
	if len(vals) != 1 || len(key) < 1 || len(key) > 255 {
		WriteError(w, r, acme.Invalid(acme.FieldError{Field: "Idempotency-Key", Message: "must be one header of 1 to 255 characters"}))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		WriteError(w, r, acme.Errorf(acme.CodeBadRequest, "could not read the body: %v", err))
		return
	}
	if len(body) > MaxBody {
		WriteError(w, r, acme.Errorf(acme.CodePayloadTooLarge, "the body is larger than %d bytes", MaxBody))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h := sha256.New()
	fmt.Fprintf(h, "%s %s?%s\n", r.Method, r.URL.Path, r.URL.RawQuery)
	h.Write(canonicalJSON(body))
	hash := hex.EncodeToString(h.Sum(nil))
	scope := c.Actor()
	store := a.Idempotency
	if store == nil {
		store = a.memIdem
	}
	ctx := r.Context()
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, stored, err := store.Claim(ctx, scope, key, hash)
		if err != nil {
			WriteError(w, r, fmt.Errorf("idempotency claim: %w", err))
			return
		}
		switch state {
		case Mismatched:
			WriteError(w, r, acme.Errorf(acme.CodeIdempotencyKeyReused, "this Idempotency-Key was already used with a different request"))
			return
		case Done:
			for k, v := range stored.Headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(stored.Status)
			_, _ = w.Write(stored.Body)
			return
		case InFlight:
			if time.Now().After(deadline) {
				WriteError(w, r, acme.Errorf(acme.CodeConflict, "a request with this Idempotency-Key is still being processed; retry later"))
				return
			}
			select {
			case <-ctx.Done():
				WriteError(w, r, ctx.Err())
				return
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		break
	}
	rec := &recorder{header: http.Header{}, status: 0}
	completed := false
	defer func() {
		if !completed {
			// a panic: forget the claim so a retry can run, then let the
			// outer recovery answer 500.
			_ = store.Release(context.WithoutCancel(ctx), scope, key)
		}
	}()
	run(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	resp := StoredResponse{Status: rec.status, Headers: map[string]string{}, Body: rec.body.Bytes()}
	for _, k := range keptHeaders {
		if v := rec.header.Get(k); v != "" {
			resp.Headers[k] = v
		}
	}
	// Not kept: a server error, a request its client abandoned, or an answer that asks for a retry
	// (Retry-After: a lost race, a read model behind), which a replay would
	// otherwise repeat for the key's lifetime.
	if rec.status >= 500 || rec.status == StatusClientClosed || rec.header.Get("Retry-After") != "" {
		err = store.Release(context.WithoutCancel(ctx), scope, key)
	} else {
		err = store.Complete(context.WithoutCancel(ctx), scope, key, resp)
	}
	completed = true
	if err != nil {
		a.logger().ErrorContext(ctx, "idempotency: storing the response failed", "key", key, "err", err)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// recorder buffers a response so it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// NewMemoryIdempotency returns an in-process IdempotencyStore.
func NewMemoryIdempotency() IdempotencyStore {
	return &memIdem{m: map[[2]string]*memEntry{}}
}

type memEntry struct {
	hash string
	done bool
	resp StoredResponse
}

type memIdem struct {
	mu sync.Mutex
	m  map[[2]string]*memEntry
}

func (s *memIdem) Claim(_ context.Context, scope, key, hash string) (ClaimState, StoredResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[[2]string{scope, key}]
	switch {
	case !ok:
		s.m[[2]string{scope, key}] = &memEntry{hash: hash}
		return Claimed, StoredResponse{}, nil
	case e.hash != hash:
		return Mismatched, StoredResponse{}, nil
	case e.done:
		return Done, e.resp, nil
	}
	return InFlight, StoredResponse{}, nil
}

func (s *memIdem) Complete(_ context.Context, scope, key string, resp StoredResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[[2]string{scope, key}]; ok {
		e.done, e.resp = true, resp
	}
	return nil
}

func (s *memIdem) Release(_ context.Context, scope, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, [2]string{scope, key})
	return nil
}

//go:embed migrations/*.sql
var migrations embed.FS

// IdempotencyMigrations are the goose migrations of the SQL idempotency table
// (apply with store.Migrate(ctx, "http", IdempotencyMigrations())).
func IdempotencyMigrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

// staleClaim is how long an unfinished claim blocks its key: a process that
// died mid-request leaves a claim that a retry may take over after this.
const staleClaim = 2 * time.Minute

const timeLayout = "2006-01-02T15:04:05.000000Z"

// SQLIdempotency is an IdempotencyStore in a context store's database (the
// app uses a store of its own, "http"), shared by every process using it.
type SQLIdempotency struct {
	DB  es.SQL
	Now func() time.Time
}

func (s *SQLIdempotency) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Claim implements IdempotencyStore: the primary key makes the claim atomic.
func (s *SQLIdempotency) Claim(ctx context.Context, scope, key, hash string) (ClaimState, StoredResponse, error) {
	now := s.now()
	res, err := s.DB.ExecContext(ctx, `INSERT INTO http_idempotency (scope, idem_key, request_hash, status, headers, body, created_at)
		VALUES ($1, $2, $3, 0, '', '', $4) ON CONFLICT (scope, idem_key) DO NOTHING`, scope, key, hash, now.Format(timeLayout))
	if err != nil {
		return 0, StoredResponse{}, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return Claimed, StoredResponse{}, nil
	}
	var (
		gotHash, headers, body, created string
		status                          int
	)
	err = s.DB.QueryRowContext(ctx, `SELECT request_hash, status, headers, body, created_at FROM http_idempotency WHERE scope = $1 AND idem_key = $2`,
		scope, key).Scan(&gotHash, &status, &headers, &body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return InFlight, StoredResponse{}, nil // released meanwhile: claim again
	}
	if err != nil {
		return 0, StoredResponse{}, err
	}
	if gotHash != hash {
		return Mismatched, StoredResponse{}, nil
	}
	if status == 0 {
		// take over a claim left behind by a process that died mid-request
		res, err := s.DB.ExecContext(ctx, `UPDATE http_idempotency SET created_at = $3 WHERE scope = $1 AND idem_key = $2 AND status = 0 AND created_at < $4`,
			scope, key, now.Format(timeLayout), now.Add(-staleClaim).Format(timeLayout))
		if err != nil {
			return 0, StoredResponse{}, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return Claimed, StoredResponse{}, nil
		}
		return InFlight, StoredResponse{}, nil
	}
	resp := StoredResponse{Status: status, Headers: map[string]string{}}
	if headers != "" {
		if err := json.Unmarshal([]byte(headers), &resp.Headers); err != nil {
			return 0, StoredResponse{}, err
		}
	}
	if resp.Body, err = base64.StdEncoding.DecodeString(body); err != nil {
		return 0, StoredResponse{}, err
	}
	return Done, resp, nil
}

// Complete implements IdempotencyStore.
func (s *SQLIdempotency) Complete(ctx context.Context, scope, key string, resp StoredResponse) error {
	h, err := json.Marshal(resp.Headers)
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, `UPDATE http_idempotency SET status = $3, headers = $4, body = $5 WHERE scope = $1 AND idem_key = $2`,
		scope, key, resp.Status, string(h), base64.StdEncoding.EncodeToString(resp.Body))
	return err
}

// Release implements IdempotencyStore.
func (s *SQLIdempotency) Release(ctx context.Context, scope, key string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM http_idempotency WHERE scope = $1 AND idem_key = $2 AND status = 0`, scope, key)
	return err
}

// Retention is how long a stored Idempotency-Key response is kept.
const Retention = 24 * time.Hour

// Purge deletes the responses stored before now-olderThan (and claims left
// behind that long); it returns how many rows went.
func (s *SQLIdempotency) Purge(ctx context.Context, olderThan time.Duration) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM http_idempotency WHERE created_at < $1`, s.now().Add(-olderThan).Format(timeLayout))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
