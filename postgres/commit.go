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
	select {
	case o := <-r.done:
		return o.res, o.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return es.Result{}, fmt.Errorf("postgres: commit: %w", ctx.Err())
		}
		o := <-r.done // taken: the batch is bounded by batchTimeout
		return o.res, o.err
	}
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
	defer close(s.writerDone)
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
	drain:
		for len(batch) < s.cfg.maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					open = false
					break drain
				}
				if !r.state.CompareAndSwap(stateQueued, stateTaken) {
					continue
				}
				if events+r.events > s.cfg.maxEvents || size+r.bytes > s.cfg.maxBytes {
					carry = r
					break drain
				}
				batch = append(batch, r)
				events += r.events
				size += r.bytes
			default:
				break drain
			}
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
	outs, head, err := s.exec(ctx, batch, false)
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
		}
	}
	st.journal = st.journal[:m.journal]
	st.next = int64(m.next)
}

// plan checks c against the state and, if it passes, assigns its versions and
// positions. noop reports an idempotent re-append (res holds the originals).
func (st *batchState) plan(c es.Commit) (res es.Result, noop bool, err error) {
	if c.InboxID != "" && st.inbox[c.InboxID] {
		return res, false, fmt.Errorf("%w: inbox id %q", es.ErrDuplicate, c.InboxID)
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
		cur := st.versions[a.StreamID]
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
	if c.InboxID != "" {
		st.inbox[c.InboxID] = true
		st.journal = append(st.journal, undo{kind: 'i', key: c.InboxID})
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
	if c.InboxID != "" {
		w.inbox = append(w.inbox, inboxRow{c.InboxID, res.Position})
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

// queue adds the statements storing w to b and returns how many it added.
func (w *writes) queue(b *pgx.Batch, now time.Time) int {
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
		b.Queue(insertEventsSQL, pos, ids, sids, stypes, vers, types, svs, data, corr, caus, actor, trace, now)
		b.Queue(upsertStreamsSQL, ssid, sstype, sver)
		n += 2
	}
	if len(w.inbox) > 0 {
		ids, pos := make([]string, len(w.inbox)), make([]int64, len(w.inbox))
		for i, r := range w.inbox {
			ids[i], pos[i] = r.id, r.pos
		}
		b.Queue(insertInboxSQL, ids, pos, now)
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
// outcome and the head after it. errIsolate asks for a redo with isolated=true.
func (s *Store) exec(ctx context.Context, batch []*request, isolated bool) (outs []outcome, head int64, err error) {
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

	st, err := s.prefetch(ctx, conn, batch)
	inTx = true
	if err != nil {
		return nil, 0, err
	}
	last := st.next - 1
	outs = make([]outcome, len(batch))
	var pending writes
	const sp = "SAVEPOINT es_commit"
	const rollbackSP = "ROLLBACK TO SAVEPOINT es_commit"
	const releaseSP = "RELEASE SAVEPOINT es_commit"
	for i, r := range batch {
		m := st.mark()
		res, noop, perr := st.plan(r.c)
		if perr != nil || noop {
			outs[i] = outcome{res: res, err: perr}
			continue
		}
		if r.c.Apply == nil && !isolated {
			pending.add(r.c, res)
			outs[i] = outcome{res: res}
			continue
		}
		// This commit runs under its own savepoint.
		b := &pgx.Batch{}
		shared := pending.queue(b, st.now)
		b.Queue(sp)
		var own writes
		own.add(r.c, res)
		own.queue(b, st.now)
		at, serr := send(ctx, conn, b)
		if serr != nil {
			if at <= shared || !isPgError(serr) {
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

	b := &pgx.Batch{}
	shared := pending.queue(b, st.now)
	head = st.next - 1
	if head > last {
		b.Queue("UPDATE es_position SET last = $1 WHERE id = 1", head)
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

// prefetch begins the batch transaction, takes the position lock and reads
// the state the batch's commits are checked against, in one round trip.
func (s *Store) prefetch(ctx context.Context, conn *sql.Conn, batch []*request) (*batchState, error) {
	var streamIDs, inboxIDs, eventIDs []string
	seen := map[string]bool{}
	for _, r := range batch {
		if r.c.InboxID != "" {
			inboxIDs = append(inboxIDs, r.c.InboxID)
		}
		for _, a := range r.c.Appends {
			if !seen[a.StreamID] {
				seen[a.StreamID] = true
				streamIDs = append(streamIDs, a.StreamID)
			}
			for _, e := range a.Events {
				eventIDs = append(eventIDs, e.ID)
			}
		}
	}
	st := &batchState{
		versions: make(map[string]int64, len(streamIDs)),
		inbox:    map[string]bool{},
		stored:   make(map[string]es.Event, len(eventIDs)),
	}
	err := rawConn(conn, func(pc *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue("SELECT last, clock_timestamp() FROM es_position WHERE id = 1 FOR UPDATE")
		if len(streamIDs) > 0 {
			b.Queue("SELECT stream_id, version FROM es_streams WHERE stream_id = ANY($1)", streamIDs)
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
		var last int64
		if err := br.QueryRow().Scan(&last, &st.now); err != nil {
			return err
		}
		st.next, st.now = last+1, st.now.UTC()
		if len(streamIDs) > 0 {
			rows, _ := br.Query()
			var id string
			var v int64
			if _, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error { st.versions[id] = v; return nil }); err != nil {
				return err
			}
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
