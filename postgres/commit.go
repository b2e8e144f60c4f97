package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"acme/es"
)

// request is one queued Commit.
type request struct {
	ctx    context.Context
	c      es.Commit
	state  atomic.Int32 // stateQueued → stateTaken (writer) or stateAbandoned (caller gave up)
	done   chan outcome
	events int
	bytes  int
}

const (
	stateQueued int32 = iota
	stateTaken
	stateAbandoned
)

type outcome struct {
	res es.Result
	err error
}

// errRetry: the optimistic one-round-trip batch failed; redo it normally.
var errRetry = errors.New("postgres: redo batch")

// errIsolate: a statement shared by several commits failed; redo the batch
// with every commit under its own savepoint.
var errIsolate = errors.New("postgres: redo batch isolated")

// Commit stores c atomically through the group-commit writer; see the package
// doc. It returns once the unit is durable (or rejected). If ctx is done
// while c is still queued, c is withdrawn and ctx's error returned (nothing is
// stored); once the writer has taken it, Commit reports its real outcome.
func (s *Store) Commit(ctx context.Context, c es.Commit) (es.Result, error) {
	if s.isClosed() {
		return es.Result{}, es.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return es.Result{}, fmt.Errorf("postgres: commit: %w", err)
	}
	n, size, err := validate(c)
	if err != nil {
		return es.Result{}, err
	}
	r := &request{ctx: ctx, c: c, done: make(chan outcome, 1), events: n, bytes: size}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return es.Result{}, es.ErrClosed
	}
	select {
	case s.reqs <- r:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return es.Result{}, fmt.Errorf("postgres: commit: %w", ctx.Err())
	}
	var o outcome
	select {
	case o = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return es.Result{}, fmt.Errorf("postgres: commit: %w", ctx.Err())
		}
		o = <-r.done // taken: the batch is bounded by batchTimeout
	}
	if o.err == nil && c.Committed != nil {
		c.Committed()
	}
	return o.res, o.err
}

func validate(c es.Commit) (events, size int, err error) {
	for _, a := range c.Appends {
		if a.StreamID == "" {
			return 0, 0, errors.New("postgres: commit: append without stream id")
		}
		if a.Expected < es.AnyVersion {
			return 0, 0, fmt.Errorf("postgres: commit: stream %q: invalid expected version %d", a.StreamID, a.Expected)
		}
		for _, e := range a.Events {
			if e.ID == "" || e.Type == "" {
				return 0, 0, fmt.Errorf("postgres: commit: stream %q: event without id or type", a.StreamID)
			}
			if len(e.Data) > 0 && !json.Valid(e.Data) {
				return 0, 0, fmt.Errorf("postgres: commit: event %s: data is not valid JSON", e.ID)
			}
			events++
			size += len(e.Data) + 256
		}
	}
	return events, size, nil
}

// writer groups queued commits into batches until Close.
func (s *Store) writer() {
	defer s.writers.Done()
	var carry *request
	for {
		var batch []*request
		var events, size int
		if carry != nil {
			batch, events, size, carry = []*request{carry}, carry.events, carry.bytes, nil
		} else {
			r, ok := <-s.reqs
			if !ok {
				return
			}
			if !r.state.CompareAndSwap(stateQueued, stateTaken) {
				continue
			}
			batch, events, size = []*request{r}, r.events, r.bytes
		}
		open := true
		take := func(r *request) bool { // false: stop collecting
			if !r.state.CompareAndSwap(stateQueued, stateTaken) {
				return true
			}
			if events+r.events > s.cfg.maxEvents || size+r.bytes > s.cfg.maxBytes {
				carry = r
				return false
			}
			batch = append(batch, r)
			events += r.events
			size += r.bytes
			return true
		}
	drain:
		for len(batch) < s.cfg.maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					open = false
					break drain
				}
				if !take(r) {
					break drain
				}
			default:
				break drain
			}
		}
		// Linger: the appenders answered by the previous batch come back in a
		// moment; waiting for them (until none arrived for lingerGap, at most a
		// quarter of the last batch's time) lets one batch, and so one WAL
		// flush, serve all of them instead of alternating half-size batches.
		if lg := s.cfg.lingerGap; lg > 0 && open && carry == nil {
			limit := time.Now().Add(min(time.Duration(s.lastExec.Load())/4, 2*time.Millisecond))
			timer := time.NewTimer(lg)
		linger:
			for len(batch) < s.cfg.maxBatch && time.Now().Before(limit) {
				select {
				case r, ok := <-s.reqs:
					if !ok {
						open = false
						break linger
					}
					if !take(r) {
						break linger
					}
					if !timer.Stop() {
						<-timer.C
					}
					timer.Reset(lg)
				case <-timer.C:
					break linger
				}
			}
			timer.Stop()
		}
		s.run(batch)
		if !open && carry == nil {
			return
		}
	}
}

func (s *Store) run(batch []*request) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.batchTimeout)
	defer cancel()
	start := time.Now()
	defer func() { s.lastExec.Store(int64(time.Since(start))) }()
	var outs []outcome
	var head int64
	err := errRetry
	if s.cfg.optimistic && optimisticOK(batch) {
		outs, head, err = s.execOptimistic(ctx, batch)
		if errors.Is(err, errRetry) {
		}
	}
	for try := 0; try < 5 && (errors.Is(err, errRetry) || isTransient(err)); try++ {
		outs, head, err = s.exec(ctx, batch, false)
	}
	if errors.Is(err, errIsolate) {
		outs, head, err = s.exec(ctx, batch, true)
	}
	if err != nil {
		err = fmt.Errorf("postgres: commit: %w", err)
		for _, r := range batch {
			r.done <- outcome{err: err}
		}
		return
	}
	s.observe(head)
	for i, r := range batch {
		r.done <- outs[i]
	}
}

// batchState is the store as the batch transaction sees it, updated in memory
// commit by commit, with an undo journal for commits that fail later (Apply).
type batchState struct {
	versions map[string]int64    // stream → version (absent: 0)
	inbox    map[string]bool     // inbox ids stored or taken in this batch
	stored   map[string]es.Event // event id → event, stored or taken in this batch
	next     int64               // next position
	now      time.Time
	journal  []undo
	assumed  map[string]int64 // optimistic batch: stream → version assumed at first touch
}

type undo struct {
	kind    byte // 'v' version, 'i' inbox, 'e' event id
	key     string
	prev    int64
	existed bool
}

type mark struct{ journal, next int }

func (st *batchState) mark() mark { return mark{len(st.journal), int(st.next)} }

func (st *batchState) rollback(m mark) {
	for i := len(st.journal) - 1; i >= m.journal; i-- {
		u := st.journal[i]
		switch u.kind {
		case 'v':
			if u.existed {
				st.versions[u.key] = u.prev
			} else {
				delete(st.versions, u.key)
			}
		case 'i':
			delete(st.inbox, u.key)
		case 'e':
			delete(st.stored, u.key)
		case 'a':
			delete(st.assumed, u.key)
			delete(st.versions, u.key)
		}
	}
	st.journal = st.journal[:m.journal]
	st.next = int64(m.next)
}

// plan checks c against the state and, if it passes, assigns its versions and
// positions. noop reports an idempotent re-append (res holds the originals).
func (st *batchState) plan(c es.Commit) (res es.Result, noop bool, err error) {
	inbox := c.Inbox()
	for i, id := range inbox {
		if st.inbox[id] || slices.Contains(inbox[:i], id) {
			return res, false, fmt.Errorf("%w: inbox id %q", es.ErrDuplicate, id)
		}
	}
	total, found := 0, 0
	var origs []es.Event
	for _, a := range c.Appends {
		for _, e := range a.Events {
			total++
			orig, ok := st.stored[e.ID]
			if !ok {
				continue
			}
			found++
			if orig.StreamID != a.StreamID || orig.Type != e.Type || !jsonEqual(orig.Data, e.Data) {
				return res, false, fmt.Errorf("%w: event %s", es.ErrEventIDConflict, e.ID)
			}
			origs = append(origs, orig)
		}
	}
	if found > 0 {
		if found < total {
			return res, false, fmt.Errorf("%w: commit mixes stored and new event ids", es.ErrEventIDConflict)
		}
		return es.Result{Events: origs, Position: st.next - 1}, true, nil
	}
	m := st.mark()
	evs := make([]es.Event, 0, total)
	for _, a := range c.Appends {
		cur, known := st.versions[a.StreamID]
		if !known && st.assumed != nil {
			// Optimistic batch: assume the stream is at the expected version;
			// the batch's first statement checks every assumption.
			cur = a.Expected
			st.assumed[a.StreamID] = cur
			st.versions[a.StreamID] = cur
			st.journal = append(st.journal, undo{kind: 'a', key: a.StreamID})
		}
		if a.Expected != es.AnyVersion && a.Expected != cur {
			st.rollback(m)
			return res, false, fmt.Errorf("%w: stream %q is at version %d, expected %d", es.ErrConcurrency, a.StreamID, cur, a.Expected)
		}
		if len(a.Events) == 0 {
			continue
		}
		for _, e := range a.Events {
			if _, dup := st.stored[e.ID]; dup {
				st.rollback(m)
				return res, false, fmt.Errorf("%w: event %s twice in one commit", es.ErrEventIDConflict, e.ID)
			}
			cur++
			e.StreamID, e.StreamType = a.StreamID, a.StreamType
			e.Version, e.Position, e.RecordedAt = cur, st.next, st.now
			st.next++
			st.stored[e.ID] = e
			st.journal = append(st.journal, undo{kind: 'e', key: e.ID})
			evs = append(evs, e)
		}
		prev, existed := st.versions[a.StreamID]
		st.versions[a.StreamID] = cur
		st.journal = append(st.journal, undo{kind: 'v', key: a.StreamID, prev: prev, existed: existed})
	}
	for _, id := range inbox {
		st.inbox[id] = true
		st.journal = append(st.journal, undo{kind: 'i', key: id})
	}
	return es.Result{Events: evs, Position: st.next - 1}, false, nil
}

// jsonEqual compares two JSON documents by value (PostgreSQL's jsonb returns
// a normalized text, not the bytes that were stored).
func jsonEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

type inboxRow struct {
	id  string
	pos int64
}

// writes accumulates rows to insert with one statement per table.
type writes struct {
	events []es.Event
	inbox  []inboxRow
}

func (w *writes) add(c es.Commit, res es.Result) {
	w.events = append(w.events, res.Events...)
	for _, id := range c.Inbox() {
		w.inbox = append(w.inbox, inboxRow{id, res.Position})
	}
}

const (
	insertEventsSQL = `INSERT INTO es_events (position, id, stream_id, stream_type, version, type,
		schema_version, data, correlation_id, causation_id, actor, traceparent, recorded_at)
	SELECT u.p, u.i, u.s, u.st, u.v, u.t, u.sv, NULLIF(u.d, '')::jsonb, u.c, u.ca, u.a, u.tp, $13
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
		$7::integer[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
		AS u(p, i, s, st, v, t, sv, d, c, ca, a, tp)`
	upsertStreamsSQL = `INSERT INTO es_streams (stream_id, stream_type, version)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
	ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version`
	insertInboxSQL = `INSERT INTO es_inbox (id, position, recorded_at)
	SELECT u.i, u.p, $3 FROM unnest($1::text[], $2::bigint[]) AS u(i, p)`
)

// queue adds the statements storing w (final positions) to b and returns how
// many it added.
func (w *writes) queue(b *pgx.Batch, now time.Time) int {
	return w.queueWith(b, func(cols []any) {
		b.Queue(insertEventsSQL, append(cols, now)...)
	}, func(ids []string, pos []int64) {
		b.Queue(insertInboxSQL, ids, pos, now)
	}, upsertStreamsSQL, true)
}

// queueRelative adds the statements storing w, whose positions are relative
// (1..n), after the UPDATE of es_position that moved it by n.
func (w *writes) queueRelative(b *pgx.Batch, n int64, streams bool) int {
	sql := updateStreamsSQL
	if !streams {
		sql = ""
	}
	return w.queueWith(b, func(cols []any) {
		b.Queue(insertEventsRelativeSQL, append(cols, n)...)
	}, func(ids []string, pos []int64) {
		b.Queue(insertInboxRelativeSQL, ids, pos, n)
	}, sql, false)
}

func (w *writes) queueWith(b *pgx.Batch, events func([]any), inbox func([]string, []int64), streamsSQL string, withType bool) int {
	n := 0
	if len(w.events) > 0 {
		k := len(w.events)
		pos, vers := make([]int64, k), make([]int64, k)
		ids, sids, stypes, types := make([]string, k), make([]string, k), make([]string, k), make([]string, k)
		svs := make([]int32, k)
		data, corr, caus, actor, trace := make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k)
		streams := map[string]int{}
		var ssid, sstype []string
		var sver []int64
		for i, e := range w.events {
			pos[i], ids[i], sids[i], stypes[i], vers[i], types[i] = e.Position, e.ID, e.StreamID, e.StreamType, e.Version, e.Type
			svs[i], data[i] = int32(e.SchemaVersion), string(e.Data)
			corr[i], caus[i], actor[i], trace[i] = e.Metadata.CorrelationID, e.Metadata.CausationID, e.Metadata.Actor, e.Metadata.TraceParent
			if j, ok := streams[e.StreamID]; ok {
				sver[j] = max(sver[j], e.Version)
			} else {
				streams[e.StreamID] = len(ssid)
				ssid, sstype, sver = append(ssid, e.StreamID), append(sstype, e.StreamType), append(sver, e.Version)
			}
		}
		events([]any{pos, ids, sids, stypes, vers, types, svs, data, corr, caus, actor, trace})
		n++
		switch {
		case streamsSQL == "":
		case withType:
			b.Queue(streamsSQL, ssid, sstype, sver)
			n++
		default:
			b.Queue(streamsSQL, ssid, sver)
			n++
		}
	}
	if len(w.inbox) > 0 {
		ids, pos := make([]string, len(w.inbox)), make([]int64, len(w.inbox))
		for i, r := range w.inbox {
			ids[i], pos[i] = r.id, r.pos
		}
		inbox(ids, pos)
		n++
	}
	w.events, w.inbox = nil, nil
	return n
}

func rawConn(conn *sql.Conn, fn func(*pgx.Conn) error) error {
	return conn.Raw(func(dc any) error { return fn(dc.(*stdlib.Conn).Conn()) })
}

// send runs b in one round trip; on error it says which statement failed.
func send(ctx context.Context, conn *sql.Conn, b *pgx.Batch) (failedAt int, err error) {
	failedAt = -1
	err = rawConn(conn, func(pc *pgx.Conn) error {
		br := pc.SendBatch(ctx, b)
		for i := 0; i < b.Len(); i++ {
			if _, err := br.Exec(); err != nil {
				failedAt = i
				br.Close()
				return err
			}
		}
		return br.Close()
	})
	return failedAt, err
}

func execSQL(ctx context.Context, conn *sql.Conn, stmts ...string) error {
	b := &pgx.Batch{}
	for _, q := range stmts {
		b.Queue(q)
	}
	_, err := send(ctx, conn, b)
	return err
}

// isTransient: a deadlock or serialization failure; the transaction was
// rolled back and may simply be run again. (All modes lock streams in stream
// id order and then the position row, so deadlocks should not happen.)
func isTransient(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func isIDConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "es_events_id_key"
}

func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// translate maps a failed statement of one commit to the store's errors.
func translate(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		switch pe.ConstraintName {
		case "es_events_stream_version_key":
			return fmt.Errorf("%w: %s", es.ErrConcurrency, pe.Detail)
		case "es_events_id_key":
			return fmt.Errorf("%w: %s", es.ErrEventIDConflict, pe.Detail)
		case "es_inbox_pk":
			return fmt.Errorf("%w: %s", es.ErrDuplicate, pe.Detail)
		}
	}
	return fmt.Errorf("postgres: commit: %w", err)
}

// exec stores one batch in one transaction and returns every commit's
// outcome and the head after it.
//
// The fast path (no commit has an Apply) takes the position lock only in the
// final pipeline (UPDATE es_position, INSERT, COMMIT), so the lock is never
// held across a client round trip. A batch with an Apply takes it in the
// first round trip, since Apply must see the events' positions.
//
// errIsolate asks for a redo with isolated=true: every commit under its own
// savepoint, and the batch's event ids looked up first. The fast path does
// not look them up: an event id already stored (an idempotent re-append,
// rare) makes the insert fail on es_events_id_key, and the redo then finds
// and compares the originals.
func (s *Store) exec(ctx context.Context, batch []*request, isolated bool) (outs []outcome, head int64, err error) {
	early := isolated
	for _, r := range batch {
		early = early || r.c.Apply != nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	inTx := false
	defer func() {
		if err != nil && inTx {
			if execSQL(context.WithoutCancel(ctx), conn, "ROLLBACK") != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the connection
			}
		}
	}()

	st, err := s.prefetch(ctx, conn, batch, early, isolated)
	inTx = true
	if err != nil {
		return nil, 0, err
	}
	last := st.next - 1 // early: the head; fast path: 0 (positions are relative)
	outs = make([]outcome, len(batch))
	var pending writes
	const sp = "SAVEPOINT es_commit"
	const rollbackSP = "ROLLBACK TO SAVEPOINT es_commit"
	const releaseSP = "RELEASE SAVEPOINT es_commit"
	for i, r := range batch {
		m := st.mark()
		res, noop, perr := st.plan(r.c)
		if noop && !early {
			return nil, 0, errIsolate // ids repeated inside the batch: rare, keep the fast path simple
		}
		if perr != nil || noop {
			outs[i] = outcome{res: res, err: perr}
			continue
		}
		if r.c.Apply == nil && !isolated {
			pending.add(r.c, res)
			outs[i] = outcome{res: res}
			continue
		}
		// This commit runs under its own savepoint (early mode: positions are final).
		b := &pgx.Batch{}
		shared := pending.queue(b, st.now)
		b.Queue(sp)
		var own writes
		own.add(r.c, res)
		own.queue(b, st.now)
		at, serr := send(ctx, conn, b)
		if serr != nil {
			if at <= shared || !isPgError(serr) || (!isolated && isIDConflict(serr)) {
				if isPgError(serr) {
					return nil, 0, errIsolate
				}
				return nil, 0, serr
			}
			if err := execSQL(ctx, conn, rollbackSP, releaseSP); err != nil {
				return nil, 0, err
			}
			st.rollback(m)
			outs[i] = outcome{err: translate(serr)}
			continue
		}
		if r.c.Apply != nil {
			if aerr := r.c.Apply(context.WithoutCancel(r.ctx), conn, res.Events); aerr != nil {
				if err := execSQL(ctx, conn, rollbackSP, releaseSP); err != nil {
					return nil, 0, err
				}
				st.rollback(m)
				outs[i] = outcome{err: aerr}
				continue
			}
		}
		if rerr := execSQL(ctx, conn, releaseSP); rerr != nil {
			// Apply left the transaction aborted (a swallowed SQL error).
			if err := execSQL(ctx, conn, rollbackSP, releaseSP); err != nil {
				return nil, 0, err
			}
			st.rollback(m)
			outs[i] = outcome{err: fmt.Errorf("postgres: commit: apply: %w", rerr)}
			continue
		}
		outs[i] = outcome{res: res}
	}

	if !isolated {
		// A lost race may be an idempotent re-append (whatever Expected says):
		// if the rejected commits' event ids are stored, redo with id checks.
		var ids []string
		for i, o := range outs {
			if errors.Is(o.err, es.ErrConcurrency) {
				for _, a := range batch[i].c.Appends {
					for _, e := range a.Events {
						ids = append(ids, e.ID)
					}
				}
			}
		}
		if len(ids) > 0 {
			var found bool
			err := rawConn(conn, func(pc *pgx.Conn) error {
				return pc.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM es_events WHERE id = ANY($1))", ids).Scan(&found)
			})
			if err != nil {
				return nil, 0, err
			}
			if found {
				return nil, 0, errIsolate
			}
		}
	}

	b := &pgx.Batch{}
	if early {
		shared := pending.queue(b, st.now)
		head = st.next - 1
		if head > last {
			b.Queue("UPDATE es_position SET last = $1, at = $2 WHERE id = 1", head, st.now)
			b.Queue("SELECT pg_notify($1, $2)", s.channel, strconv.FormatInt(head, 10))
		}
		b.Queue("COMMIT")
		at, err := send(ctx, conn, b)
		if err != nil {
			if at >= 0 && at < shared && isPgError(err) && !isolated {
				return nil, 0, errIsolate
			}
			return nil, 0, err
		}
		inTx = false
		return outs, head, nil
	}

	// Fast path: lock the position row, insert with positions relative to it,
	// commit: one round trip, and the lock is held only for its server side.
	n := st.next - 1
	b.Queue("UPDATE es_position SET last = last + $1, at = clock_timestamp() WHERE id = 1 RETURNING last, at", n)
	pending.queueRelative(b, n, true)
	if n > 0 {
		b.Queue("SELECT pg_notify($1, last::text) FROM es_position WHERE id = 1", s.channel)
	}
	b.Queue("COMMIT")
	var now time.Time
	err = rawConn(conn, func(pc *pgx.Conn) error {
		br := pc.SendBatch(ctx, b)
		defer br.Close()
		if err := br.QueryRow().Scan(&head, &now); err != nil {
			return err
		}
		for i := 1; i < b.Len(); i++ {
			if _, err := br.Exec(); err != nil {
				if isPgError(err) && i < b.Len()-1 {
					return errIsolate
				}
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, 0, err
	}
	inTx = false
	base, now := head-n, now.UTC()
	for i := range outs {
		if outs[i].err != nil {
			continue
		}
		res := &outs[i].res
		res.Position += base
		for j := range res.Events {
			res.Events[j].Position += base
			res.Events[j].RecordedAt = now
		}
	}
	return outs, head, nil
}

// optimisticOK: every append of the batch states its expected version and no
// commit has an Apply, so the batch can be checked and stored in one round
// trip (execOptimistic).
func optimisticOK(batch []*request) bool {
	for _, r := range batch {
		if r.c.Apply != nil {
			return false
		}
		for _, a := range r.c.Appends {
			if a.Expected < 0 {
				return false
			}
		}
	}
	return true
}

// execOptimistic stores a batch in ONE round trip, without reading first: every
// append states its expected version, so the batch is planned in memory on the
// assumption that each stream is at the version its first append expects, and
// the pipeline's first statement checks all of those assumptions at once
// (updating es_streams only where the version matches, under row locks) and
// fails the transaction unless every one held. Then come the position lock,
// the inserts and COMMIT. Any failure (a lost race, a duplicate inbox or event
// id, a deadlock) rolls everything back and the batch is redone by exec, which
// reads first and so attributes each outcome exactly (errRetry).
func (s *Store) execOptimistic(ctx context.Context, batch []*request) (outs []outcome, head int64, err error) {
	st := &batchState{
		versions: map[string]int64{},
		inbox:    map[string]bool{},
		stored:   map[string]es.Event{},
		assumed:  map[string]int64{},
		next:     1,
	}
	outs = make([]outcome, len(batch))
	var pending writes
	types := map[string]string{}
	for i, r := range batch {
		res, noop, perr := st.plan(r.c)
		if noop || errors.Is(perr, es.ErrConcurrency) {
			return nil, 0, errRetry // exec decides these exactly (idempotent re-appends)
		}
		if perr != nil {
			outs[i] = outcome{err: perr}
			continue
		}
		for _, a := range r.c.Appends {
			if _, ok := types[a.StreamID]; !ok {
				types[a.StreamID] = a.StreamType
			}
		}
		pending.add(r.c, res)
		outs[i] = outcome{res: res}
	}
	var sids, stypes []string
	var olds, news []int64
	for id, old := range st.assumed {
		sids, stypes = append(sids, id), append(stypes, types[id])
		olds, news = append(olds, old), append(news, st.versions[id])
	}
	n := st.next - 1
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lockStreamsSQL, sids, stypes)
	b.Queue(checkStreamsSQL, sids, olds, news)
	b.Queue("UPDATE es_position SET last = last + $1, at = clock_timestamp() WHERE id = 1 RETURNING last, at", n)
	pending.queueRelative(b, n, false)
	if n > 0 {
		b.Queue("SELECT pg_notify($1, last::text) FROM es_position WHERE id = 1", s.channel)
	}
	b.Queue("COMMIT")
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	var now time.Time
	err = rawConn(conn, func(pc *pgx.Conn) error {
		br := pc.SendBatch(ctx, b)
		defer br.Close()
		for range 3 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := br.QueryRow().Scan(&head, &now); err != nil {
			return err
		}
		for i := 4; i < b.Len(); i++ {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		if !isPgError(err) {
			// The connection failed: whether COMMIT happened is unknown.
			conn.Raw(func(any) error { return driver.ErrBadConn })
			return nil, 0, err
		}
		if execSQL(context.WithoutCancel(ctx), conn, "ROLLBACK") != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		return nil, 0, errRetry
	}
	base, now := head-n, now.UTC()
	for i := range outs {
		if outs[i].err != nil {
			continue
		}
		res := &outs[i].res
		res.Position += base
		for j := range res.Events {
			res.Events[j].Position += base
			res.Events[j].RecordedAt = now
		}
	}
	return outs, head, nil
}

const (
	// checkStreamsSQL moves every stream of an optimistic batch (already
	// locked, missing ones created at version 0, by lockStreamsSQL) from the
	// version assumed ($2) to its new version ($3) where the assumption holds,
	// and fails unless it held for all of them.
	checkStreamsSQL = `WITH upd AS (
		UPDATE es_streams AS s SET version = u.n
		FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(s, o, n)
		WHERE s.stream_id = u.s AND s.version = u.o
		RETURNING 1
	)
	SELECT es_assert((SELECT count(*) FROM upd) = cardinality($1::text[]), 'expected stream versions changed')`

	// lockStreamsSQL creates the batch's missing streams (version 0) and locks
	// every one of them, in stream id order (no deadlock between batches), and
	// returns their current versions.
	lockStreamsSQL = `INSERT INTO es_streams AS s (stream_id, stream_type, version)
	SELECT u.s, u.t, 0 FROM unnest($1::text[], $2::text[]) AS u(s, t) ORDER BY u.s
	ON CONFLICT (stream_id) DO UPDATE SET version = s.version
	RETURNING stream_id, version`
	insertEventsRelativeSQL = `INSERT INTO es_events (position, id, stream_id, stream_type, version, type,
		schema_version, data, correlation_id, causation_id, actor, traceparent, recorded_at)
	SELECT p.last - $13 + u.p, u.i, u.s, u.st, u.v, u.t, u.sv, NULLIF(u.d, '')::jsonb, u.c, u.ca, u.a, u.tp, p.at
	FROM es_position p, unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
		$7::integer[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
		AS u(p, i, s, st, v, t, sv, d, c, ca, a, tp)
	WHERE p.id = 1`
	updateStreamsSQL = `UPDATE es_streams AS s SET version = u.v
	FROM unnest($1::text[], $2::bigint[]) AS u(s, v) WHERE s.stream_id = u.s`
	insertInboxRelativeSQL = `INSERT INTO es_inbox (id, position, recorded_at)
	SELECT u.i, p.last - $3 + u.p, p.at FROM es_position p, unnest($1::text[], $2::bigint[]) AS u(i, p)
	WHERE p.id = 1`
)

// prefetch begins the batch transaction, locks the batch's streams (and, in
// early mode, the position row) and reads the state the batch's commits are
// checked against, in one round trip.
func (s *Store) prefetch(ctx context.Context, conn *sql.Conn, batch []*request, early, checkIDs bool) (*batchState, error) {
	var streamIDs, streamTypes, inboxIDs, eventIDs []string
	seen := map[string]bool{}
	for _, r := range batch {
		inboxIDs = append(inboxIDs, r.c.Inbox()...)
		for _, a := range r.c.Appends {
			if !seen[a.StreamID] {
				seen[a.StreamID] = true
				streamIDs = append(streamIDs, a.StreamID)
				streamTypes = append(streamTypes, a.StreamType)
			}
			if checkIDs {
				for _, e := range a.Events {
					eventIDs = append(eventIDs, e.ID)
				}
			}
		}
	}
	st := &batchState{
		versions: make(map[string]int64, len(streamIDs)),
		inbox:    map[string]bool{},
		stored:   make(map[string]es.Event, len(eventIDs)),
		next:     1,
	}
	err := rawConn(conn, func(pc *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		if len(streamIDs) > 0 {
			b.Queue(lockStreamsSQL, streamIDs, streamTypes)
		}
		if early {
			b.Queue("SELECT last, clock_timestamp() FROM es_position WHERE id = 1 FOR UPDATE")
		}
		if len(inboxIDs) > 0 {
			b.Queue("SELECT id FROM es_inbox WHERE id = ANY($1)", inboxIDs)
		}
		if len(eventIDs) > 0 {
			b.Queue("SELECT "+eventColumns+" FROM es_events WHERE id = ANY($1)", eventIDs)
		}
		br := pc.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		if len(streamIDs) > 0 {
			rows, _ := br.Query()
			var id string
			var v int64
			if _, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error { st.versions[id] = v; return nil }); err != nil {
				return err
			}
		}
		if early {
			var last int64
			if err := br.QueryRow().Scan(&last, &st.now); err != nil {
				return err
			}
			st.next, st.now = last+1, st.now.UTC()
		}
		if len(inboxIDs) > 0 {
			rows, _ := br.Query()
			var id string
			if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { st.inbox[id] = true; return nil }); err != nil {
				return err
			}
		}
		if len(eventIDs) > 0 {
			rows, _ := br.Query()
			evs, err := scanEvents(rows, 0)
			if err != nil {
				return err
			}
			for _, e := range evs {
				st.stored[e.ID] = e
			}
		}
		return br.Close()
	})
	return st, err
}
