package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"acme/es"
)

// atomicState is a request's hand-over between its caller and the writer.
type atomicState struct{ v atomic.Int32 }

const (
	pending int32 = iota
	taken
	abandoned
)

func (a *atomicState) take() bool    { return a.v.CompareAndSwap(pending, taken) }
func (a *atomicState) abandon() bool { return a.v.CompareAndSwap(pending, abandoned) }

const eventColumns = `position, id, stream_id, stream_type, version, type, schema_version, data, metadata, recorded_at`

type scanner interface{ Scan(dest ...any) error }

func scanEvent(row scanner) (es.Event, error) {
	var e es.Event
	var data []byte
	var md string
	var recorded int64
	if err := row.Scan(&e.Position, &e.ID, &e.StreamID, &e.StreamType, &e.Version, &e.Type, &e.SchemaVersion, &data, &md, &recorded); err != nil {
		return e, err
	}
	e.Data = data
	if md != "{}" && md != "" && !decodeMetadata(md, &e.Metadata) {
		if err := json.Unmarshal([]byte(md), &e.Metadata); err != nil {
			return e, fmt.Errorf("event %s: metadata: %w", e.ID, err)
		}
	}
	e.RecordedAt = time.UnixMicro(recorded).UTC()
	return e, nil
}

// decodeMetadata is the fast path of reading metadata as the store writes it
// (json.Marshal of es.Metadata: a flat object of known string fields). It
// reports false, leaving the rest to encoding/json, on anything else
// (escapes, other keys, whitespace).
func decodeMetadata(s string, md *es.Metadata) bool {
	var out es.Metadata
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	s = s[1 : len(s)-1]
	for len(s) > 0 {
		key, rest, ok := quoted(s)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return false
		}
		val, rest, ok := quoted(rest[1:])
		if !ok {
			return false
		}
		switch key {
		case "correlationId":
			out.CorrelationID = val
		case "causationId":
			out.CausationID = val
		case "actor":
			out.Actor = val
		case "traceparent":
			out.TraceParent = val
		default:
			return false
		}
		if len(rest) > 0 {
			if rest[0] != ',' || len(rest) == 1 {
				return false
			}
			rest = rest[1:]
		}
		s = rest
	}
	*md = out
	return true
}

// quoted splits a leading JSON string without escapes off s.
func quoted(s string) (val, rest string, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[1:i], s[i+1:], utf8.ValidString(s[1:i])
		case c == '\\' || c < 0x20:
			return "", s, false
		}
	}
	return "", s, false
}

func (s *Store) readErr(ctx context.Context, op string, err error) error {
	if s.isClosed() {
		return es.ErrClosed
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("sqlite: %s: %w (%v)", op, ctxErr, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// ready refuses work on a closed store or with a done ctx.
func (s *Store) ready(ctx context.Context, op string) error {
	if s.isClosed() {
		return es.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

func (s *Store) queryEvents(ctx context.Context, op string, capHint int, q string, args ...any) ([]es.Event, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.readErr(ctx, op, err)
	}
	defer rows.Close()
	out := make([]es.Event, 0, capHint)
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, s.readErr(ctx, op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(ctx, op, err)
	}
	return out, nil
}

// ReadStream returns the events of streamID in version order, filtered by q.
func (s *Store) ReadStream(ctx context.Context, streamID string, q es.StreamQuery) ([]es.Event, error) {
	if err := s.ready(ctx, "read stream"); err != nil {
		return nil, err
	}
	to := q.ToVersion
	if to <= 0 {
		to = math.MaxInt64
	}
	asOf := int64(math.MaxInt64)
	if !q.AsOf.IsZero() {
		asOf = q.AsOf.UnixMicro()
	}
	if events, ok := s.streams.read(streamID, q.FromVersion, to, asOf); ok {
		return events, nil
	}
	return s.queryEvents(ctx, "read stream", 16, `SELECT `+eventColumns+` FROM events
		WHERE stream_id = $1 AND version >= $2 AND version <= $3 AND recorded_at <= $4 ORDER BY version`,
		streamID, q.FromVersion, to, asOf)
}

// StreamVersion returns the current version of streamID, 0 if it does not exist.
func (s *Store) StreamVersion(ctx context.Context, streamID string) (int64, error) {
	if err := s.ready(ctx, "stream version"); err != nil {
		return 0, err
	}
	var v int64
	err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = $1`, streamID).Scan(&v)
	if err != nil {
		return 0, s.readErr(ctx, "stream version", err)
	}
	return v, nil
}

// DefaultReadLimit is the batch size ReadAll uses when limit <= 0.
const DefaultReadLimit = 1000

// ReadAll returns up to limit events with Position > after, in position order.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]es.Event, error) {
	if err := s.ready(ctx, "read all"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	events, ok, gap := s.tail.read(after, limit)
	if ok {
		if !gap {
			// Up to limit, or up to the newest event this process committed.
			// Another process's newer events (a store shared by processes)
			// come with the next read, which misses the cache: like Wait,
			// this process sees them a moment later.
			return events, nil
		}
		// A gap: another process's events follow; the rest from SQL.
		after, limit = events[len(events)-1].Position, limit-len(events)
	}
	rest, err := s.queryEvents(ctx, "read all", min(limit, 1024), `SELECT `+eventColumns+` FROM events WHERE position > $1 ORDER BY position LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return append(events, rest...), nil
}

// Head returns the position of the last committed event (0 when empty).
func (s *Store) Head(ctx context.Context) (int64, error) {
	if err := s.ready(ctx, "head"); err != nil {
		return 0, err
	}
	var h int64
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&h); err != nil {
		return 0, s.readErr(ctx, "head", err)
	}
	return h, nil
}

// Wait blocks until Head() > after, ctx is done (it returns ctx.Err()) or the
// store is closed (es.ErrClosed). Commits of this process wake it at once; the
// file is also checked every poll interval for commits of other processes.
func (s *Store) Wait(ctx context.Context, after int64) error {
	var poll *time.Timer
	for {
		if s.isClosed() {
			return es.ErrClosed
		}
		ch := s.signal() // before reading head: a commit after this read closes ch
		if s.head.Load() > after {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if poll == nil {
			poll = time.NewTimer(s.opts.pollInterval)
			defer poll.Stop()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closedCh:
			return es.ErrClosed
		case <-poll.C:
			h, err := s.Head(ctx)
			if err == nil && h > after {
				return nil
			}
			poll.Reset(s.opts.pollInterval)
		}
	}
}

// LoadSnapshot returns the latest snapshot of streamID with Version <=
// maxVersion (0 = any); es.ErrNotFound when there is none.
func (s *Store) LoadSnapshot(ctx context.Context, streamID string, maxVersion int64) (es.Snapshot, error) {
	if err := s.ready(ctx, "load snapshot"); err != nil {
		return es.Snapshot{}, err
	}
	if maxVersion <= 0 {
		maxVersion = math.MaxInt64
	}
	snap := es.Snapshot{StreamID: streamID}
	var state []byte
	var recorded int64
	err := s.read.QueryRowContext(ctx, `SELECT version, schema_version, state, recorded_at FROM snapshots
		WHERE stream_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1`, streamID, maxVersion).
		Scan(&snap.Version, &snap.SchemaVersion, &state, &recorded)
	if errors.Is(err, sql.ErrNoRows) {
		return es.Snapshot{}, fmt.Errorf("%w: snapshot of %s at or below %d", es.ErrNotFound, streamID, maxVersion)
	}
	if err != nil {
		return es.Snapshot{}, s.readErr(ctx, "load snapshot", err)
	}
	snap.State = state
	snap.RecordedAt = time.UnixMicro(recorded).UTC()
	return snap, nil
}
