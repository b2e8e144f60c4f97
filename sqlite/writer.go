package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"acme/es"
)

// request is one unit of work for the writer: a Commit or a snapshot.
type request struct {
	ctx    context.Context
	commit *es.Commit
	snap   *es.Snapshot
	state  atomicState
	done   chan struct{}
	res    es.Result
	err    error
}

func (r *request) finish(res es.Result, err error) {
	r.res, r.err = res, err
	close(r.done)
}

// Commit stores c atomically; see es.Store. It returns when the transaction
// that carries c is committed (and synced, per the synchronous setting).
func (s *Store) Commit(ctx context.Context, c es.Commit) (es.Result, error) {
	if err := validate(&c); err != nil {
		return es.Result{}, err
	}
	r := &request{ctx: ctx, commit: &c, done: make(chan struct{})}
	if err := s.do(r); err != nil {
		return es.Result{}, err
	}
	if r.err == nil && c.Committed != nil {
		c.Committed()
	}
	return r.res, r.err
}

// SaveSnapshot stores snap, replacing a snapshot of the same stream and version.
func (s *Store) SaveSnapshot(ctx context.Context, snap es.Snapshot) error {
	if snap.StreamID == "" || snap.Version < 1 {
		return fmt.Errorf("sqlite: save snapshot: stream id and a version >= 1 are required")
	}
	if len(snap.State) == 0 {
		snap.State = json.RawMessage("null")
	}
	if !json.Valid(snap.State) {
		return fmt.Errorf("sqlite: save snapshot %s@%d: state is not valid JSON", snap.StreamID, snap.Version)
	}
	r := &request{ctx: ctx, snap: &snap, done: make(chan struct{})}
	if err := s.do(r); err != nil {
		return err
	}
	return r.err
}

// do queues r for the writer and waits for its outcome. If ctx ends before the
// writer has taken r, r is abandoned (the writer skips it) and the ctx error is
// returned; once taken, r's transaction is short and its outcome is awaited,
// so the caller never sees a ctx error for work that became durable.
func (s *Store) do(r *request) error {
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	if r.ctx.Value(applyKey{}) == s {
		// The writer is running this caller's Apply: queueing would deadlock.
		return errors.New("sqlite: Commit or SaveSnapshot called from inside a Commit.Apply of the same store")
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return es.ErrClosed
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-r.ctx.Done():
		s.mu.RUnlock()
		return fmt.Errorf("sqlite: commit: %w", r.ctx.Err())
	}
	select {
	case <-r.done:
		return nil
	case <-r.ctx.Done():
		if r.state.abandon() {
			return fmt.Errorf("sqlite: commit: %w", r.ctx.Err())
		}
		<-r.done
		return nil
	}
}

func validate(c *es.Commit) error {
	for _, a := range c.Appends {
		if a.StreamID == "" {
			return fmt.Errorf("sqlite: commit: append without a stream id")
		}
		if a.Expected < es.AnyVersion {
			return fmt.Errorf("sqlite: commit: stream %s: invalid expected version %d", a.StreamID, a.Expected)
		}
		for _, e := range a.Events {
			if e.ID == "" || e.Type == "" {
				return fmt.Errorf("sqlite: commit: stream %s: every event needs an id and a type", a.StreamID)
			}
			if len(e.Data) > 0 && !json.Valid(e.Data) {
				return fmt.Errorf("sqlite: commit: event %s: data is not valid JSON", e.ID)
			}
		}
	}
	return nil
}

// run is the writer goroutine: it groups queued requests into transactions
// until Close closes s.reqs, then finishes what is queued and returns.
func (s *Store) run() {
	defer close(s.writerDone)
	batch := make([]*request, 0, s.opts.maxBatch)
	for first := range s.reqs {
		batch = append(batch[:0], first)
		// Drain what is queued. Yielding a few times lets callers that are
		// runnable (woken by the previous batch) queue their next commit, so
		// one transaction and one WAL sync serve more of them.
		for yields := 0; len(batch) < s.opts.maxBatch; {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					yields = batchYields
					break
				}
				batch = append(batch, r)
				continue
			default:
			}
			if yields >= batchYields {
				break
			}
			yields++
			runtime.Gosched()
		}
		live := make([]*request, 0, len(batch))
		for _, r := range batch {
			if !r.state.take() {
				continue // its caller gave up before we started it
			}
			if err := r.ctx.Err(); err != nil {
				r.finish(es.Result{}, fmt.Errorf("sqlite: commit: %w", err))
				continue
			}
			live = append(live, r)
		}
		for len(live) > 0 {
			live = s.runTx(live)
		}
		clear(batch)
	}
}

// batchYields is how many times the writer yields the processor while
// filling a batch (see run).
const batchYields = 2

// bg is the context of the writer's statements: a commit's own ctx is not
// passed to SQLite, because interrupting a statement inside an explicit
// transaction may roll back the whole group's transaction.
var bg = context.Background()

// runTx runs reqs in one transaction, each under its own savepoint, and
// finishes them. If a request breaks the transaction itself (the savepoint
// cannot be rolled back), that request fails and the others are returned to be
// run again in a new transaction.
func (s *Store) runTx(reqs []*request) (retry []*request) {
	failAll := func(err error) []*request {
		for _, r := range reqs {
			r.finish(es.Result{}, err)
		}
		return nil
	}
	if _, err := s.stmts.begin.ExecContext(bg); err != nil {
		return failAll(fmt.Errorf("sqlite: begin: %w", err))
	}
	var head int64
	if err := s.stmts.head.QueryRowContext(bg).Scan(&head); err != nil {
		s.rollback()
		return failAll(fmt.Errorf("sqlite: read head: %w", err))
	}
	if head != s.head.Load() {
		// Someone appended past WithExclusive's lock (a sqlite3 shell, say):
		// this store no longer sees every write, so its stream cache goes.
		s.streams.disable()
	}
	var fresh []es.Event // the events this transaction appends, for the caches
	now := time.Now().UnixMicro()
	if now < s.lastRecorded {
		now = s.lastRecorded // keep recorded_at monotone with position if the clock steps back
	}
	for i, r := range reqs {
		if _, err := s.stmts.savepoint.ExecContext(bg); err != nil {
			s.rollback()
			return failAll(fmt.Errorf("sqlite: savepoint: %w", err))
		}
		// culprit ends the transaction when r broke it (SQLite rolled it back,
		// e.g. on an I/O error): r fails, the others run again in a new one.
		culprit := func(err error) []*request {
			s.rollback()
			r.finish(es.Result{}, err)
			retry = make([]*request, 0, len(reqs)-1)
			retry = append(retry, reqs[:i]...)
			return append(retry, reqs[i+1:]...)
		}
		before := head
		res, err := s.apply(r, &head, now)
		if err == nil {
			if _, err := s.stmts.release.ExecContext(bg); err != nil {
				return culprit(fmt.Errorf("sqlite: release: %w", err))
			}
			r.res, r.err = res, nil
			fresh = append(fresh, res.Events...)
			continue
		}
		head = before
		if _, rbErr := s.stmts.rollbackTo.ExecContext(bg); rbErr != nil {
			return culprit(err)
		}
		if r.commit != nil && (errors.Is(err, errIDExists) || errors.Is(err, es.ErrConcurrency)) {
			// An idempotent re-append answers with the originals, whatever Expected says.
			if orig, ok, ierr := s.originals(r.commit, err); ierr != nil {
				err = ierr
			} else if ok {
				res, err = es.Result{Events: orig, Position: head}, nil
			}
		}
		if _, relErr := s.stmts.release.ExecContext(bg); relErr != nil {
			s.rollback()
			return failAll(fmt.Errorf("sqlite: release: %w", relErr))
		}
		r.res, r.err = res, err
	}
	s.streams.hold(fresh) // until they are in the cache, reads of these streams go to SQL
	if _, err := s.stmts.commit.ExecContext(bg); err != nil {
		s.streams.unhold(fresh)
		s.rollback()
		return failAll(fmt.Errorf("sqlite: commit: %w", err))
	}
	s.lastRecorded = now
	s.tail.add(fresh)
	s.streams.add(fresh)
	s.head.Store(head)
	s.txs.Add(1)
	s.commits.Add(int64(len(reqs)))
	for _, r := range reqs {
		close(r.done)
	}
	s.broadcast()
	return nil
}

func (s *Store) rollback() { _, _ = s.conn.ExecContext(bg, "ROLLBACK") }

var errIDExists = errors.New("event id exists")

// apply runs one request inside the current savepoint. head is the last
// position assigned in this transaction; now the batch's recorded time.
func (s *Store) apply(r *request, head *int64, now int64) (es.Result, error) {
	st := &s.stmts
	if r.snap != nil {
		sn := r.snap
		_, err := st.saveSnapshot.ExecContext(bg, sn.StreamID, sn.Version, sn.SchemaVersion, string(sn.State), now)
		if err != nil {
			return es.Result{}, fmt.Errorf("sqlite: save snapshot: %w", err)
		}
		return es.Result{}, nil
	}
	c := r.commit
	for _, id := range c.Inbox() {
		res, err := st.insertInbox.ExecContext(bg, id, now)
		if err != nil {
			return es.Result{}, fmt.Errorf("sqlite: inbox: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return es.Result{}, fmt.Errorf("%w: inbox id %s", es.ErrDuplicate, id)
		}
	}
	var out []es.Event
	recorded := time.UnixMicro(now).UTC()
	for _, a := range c.Appends {
		cur, err := s.advance(a)
		if err != nil {
			return es.Result{}, err
		}
		for i, e := range a.Events {
			data := e.Data
			if len(data) == 0 {
				data = json.RawMessage("null")
			}
			md, err := encodeMetadata(e.Metadata)
			if err != nil {
				return es.Result{}, err
			}
			pos := *head + 1
			e.StreamID, e.StreamType, e.Data = a.StreamID, a.StreamType, data
			e.Version, e.Position, e.RecordedAt = cur+int64(i)+1, pos, recorded
			res, err := st.insertEvent.ExecContext(bg, pos, e.ID, e.StreamID, e.StreamType, e.Version, e.Type, e.SchemaVersion, string(data), md, now)
			if err != nil {
				return es.Result{}, fmt.Errorf("sqlite: insert event %s: %w", e.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return es.Result{}, fmt.Errorf("%w: %s", errIDExists, e.ID)
			}
			*head = pos
			out = append(out, e)
		}
	}
	if c.Apply != nil {
		if err := s.runApply(r, out); err != nil {
			return es.Result{}, err
		}
	}
	return es.Result{Events: out, Position: *head}, nil
}

// advance checks a's expected version and returns the stream's version
// before a's events.
func (s *Store) advance(a es.Append) (int64, error) {
	// The stream's version is its last event's: read on the (stream_id,
	// version) index, inside the writer's transaction, so appends earlier in
	// it count. Only this writer appends, so the version cannot move between
	// this read and the insert; UNIQUE (stream_id, version) is the backstop.
	var cur int64
	if err := s.stmts.streamVersion.QueryRowContext(bg, a.StreamID).Scan(&cur); err != nil {
		return 0, fmt.Errorf("sqlite: stream %s: %w", a.StreamID, err)
	}
	if a.Expected != es.AnyVersion && a.Expected != cur {
		return 0, fmt.Errorf("%w: stream %s is at version %d, expected %d", es.ErrConcurrency, a.StreamID, cur, a.Expected)
	}
	return cur, nil
}

// runApply runs the commit's Apply. A panic in it fails that commit only (it
// runs on the writer goroutine, where it would otherwise end the process).
func (s *Store) runApply(r *request, events []es.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: panic in Commit.Apply: %v\n%s", p, debug.Stack())
		}
	}()
	ctx := context.WithValue(r.ctx, applyKey{}, s)
	return r.commit.Apply(ctx, txSQL{conn: s.conn, stmts: s.txStmts, ctx: r.ctx}, events)
}

// originals decides what a commit whose event ids (some or all) already exist
// means: when every event is stored with the same stream, type and data, the
// commit is an idempotent re-append and the stored events are returned (ok);
// when some are, it is ErrEventIDConflict; when none is, cause stands.
func (s *Store) originals(c *es.Commit, cause error) ([]es.Event, bool, error) {
	var orig []es.Event
	total, seen := 0, map[string]bool{}
	for _, a := range c.Appends {
		for _, e := range a.Events {
			total++
			if seen[e.ID] {
				return nil, false, fmt.Errorf("%w: event id %s appears twice in one commit", es.ErrEventIDConflict, e.ID)
			}
			seen[e.ID] = true
			stored, err := scanEvent(s.stmts.eventByID.QueryRowContext(bg, e.ID))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return nil, false, fmt.Errorf("sqlite: read event %s: %w", e.ID, err)
			}
			if stored.StreamID != a.StreamID || stored.Type != e.Type || !jsonEqual(stored.Data, e.Data) {
				return nil, false, fmt.Errorf("%w: %s", es.ErrEventIDConflict, e.ID)
			}
			orig = append(orig, stored)
		}
	}
	switch {
	case len(orig) == 0 && errors.Is(cause, errIDExists):
		return nil, false, fmt.Errorf("%w: %v", es.ErrEventIDConflict, cause) // cannot happen: the id was there
	case len(orig) == 0:
		return nil, false, cause
	case len(orig) < total:
		return nil, false, fmt.Errorf("%w: only %d of the commit's %d event ids are stored", es.ErrEventIDConflict, len(orig), total)
	}
	return orig, true, nil
}

func jsonEqual(a, b []byte) bool {
	if len(b) == 0 {
		b = []byte("null")
	}
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func encodeMetadata(md es.Metadata) (string, error) {
	if md == (es.Metadata{}) {
		return "{}", nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return "", fmt.Errorf("sqlite: metadata: %w", err)
	}
	return string(b), nil
}

// txSQL is the transaction given to Commit.Apply. It runs statements with the
// writer's context (see bg) after checking the commit's own ctx.
type txSQL struct {
	conn  *sql.Conn
	stmts *stmtCache // Exec and QueryRow only: a query's rows may still be open when it runs again
	ctx   context.Context
}

// applyKey marks the ctx given to Commit.Apply (its value is the store).
type applyKey struct{}

// errTxControl: Apply must not end or nest the group's transaction.
var errTxControl = errors.New("sqlite: transaction control statements are not allowed in Commit.Apply")

func txControl(q string) bool {
	f := strings.Fields(q)
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(strings.TrimRight(f[0], ";")) {
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return true
	}
	return false
}

func (t txSQL) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, err
	}
	if txControl(q) {
		return nil, errTxControl
	}
	if st := t.stmts.stmt(bg, q); st != nil {
		return st.ExecContext(bg, args...)
	}
	return t.conn.ExecContext(bg, q, args...)
}

func (t txSQL) QueryContext(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, err
	}
	if txControl(q) {
		return nil, errTxControl
	}
	return t.conn.QueryContext(bg, q, args...)
}

func (t txSQL) QueryRowContext(_ context.Context, q string, args ...any) *sql.Row {
	if st := t.stmts.stmt(bg, q); st != nil {
		return st.QueryRowContext(bg, args...)
	}
	return t.conn.QueryRowContext(bg, q, args...)
}

// writeStmts are the writer's prepared statements.
type writeStmts struct {
	begin, commit, savepoint, release, rollbackTo *sql.Stmt
	head, streamVersion, insertEvent              *sql.Stmt
	insertInbox, eventByID, saveSnapshot          *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, c *sql.Conn) error {
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&w.begin, `BEGIN IMMEDIATE`},
		{&w.commit, `COMMIT`},
		{&w.savepoint, `SAVEPOINT c`},
		{&w.release, `RELEASE c`},
		{&w.rollbackTo, `ROLLBACK TO c`},
		{&w.head, `SELECT COALESCE(MAX(position), 0) FROM events`},
		{&w.streamVersion, `SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = $1`},
		{&w.insertEvent, `INSERT INTO events (position, id, stream_id, stream_type, version, type, schema_version, data, metadata, recorded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`},
		{&w.insertInbox, `INSERT INTO inbox (id, recorded_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`},
		{&w.eventByID, `SELECT ` + eventColumns + ` FROM events WHERE id = $1`},
		{&w.saveSnapshot, `INSERT INTO snapshots (stream_id, version, schema_version, state, recorded_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (stream_id, version) DO UPDATE SET schema_version = excluded.schema_version, state = excluded.state, recorded_at = excluded.recorded_at`},
	} {
		st, err := c.PrepareContext(ctx, p.q)
		if err != nil {
			w.close()
			return fmt.Errorf("%s: %w", p.q, err)
		}
		*p.dst = st
	}
	return nil
}

func (w *writeStmts) close() {
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.savepoint, w.release, w.rollbackTo, w.head, w.streamVersion,
		w.insertEvent, w.insertInbox, w.eventByID, w.saveSnapshot} {
		if st != nil {
			st.Close()
		}
	}
}
