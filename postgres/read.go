package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"acme/es"
)

const eventColumns = `position, id, stream_id, stream_type, version, type, schema_version, data,
	correlation_id, causation_id, actor, traceparent, recorded_at`

func scanEvents(rows pgx.Rows, capHint int) ([]es.Event, error) {
	defer rows.Close()
	out := make([]es.Event, 0, capHint)
	for rows.Next() {
		var e es.Event
		var data []byte
		if err := rows.Scan(&e.Position, &e.ID, &e.StreamID, &e.StreamType, &e.Version, &e.Type,
			&e.SchemaVersion, &data, &e.Metadata.CorrelationID, &e.Metadata.CausationID,
			&e.Metadata.Actor, &e.Metadata.TraceParent, &e.RecordedAt); err != nil {
			return nil, err
		}
		if data != nil {
			e.Data = data
		}
		e.RecordedAt = e.RecordedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// ReadStream returns streamID's events in version order filtered by q.
func (s *Store) ReadStream(ctx context.Context, streamID string, q es.StreamQuery) ([]es.Event, error) {
	if s.isClosed() {
		return nil, es.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read stream: %w", err)
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + eventColumns + " FROM es_events WHERE stream_id = $1")
	args := []any{streamID}
	if q.FromVersion > 1 {
		args = append(args, q.FromVersion)
		sb.WriteString(" AND version >= $" + strconv.Itoa(len(args)))
	}
	if q.ToVersion > 0 {
		args = append(args, q.ToVersion)
		sb.WriteString(" AND version <= $" + strconv.Itoa(len(args)))
	}
	if !q.AsOf.IsZero() {
		args = append(args, q.AsOf)
		sb.WriteString(" AND recorded_at <= $" + strconv.Itoa(len(args)))
	}
	sb.WriteString(" ORDER BY version")
	rows, err := s.pool.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, s.fail(ctx, "read stream", err)
	}
	evs, err := scanEvents(rows, 16)
	if err != nil {
		return nil, s.fail(ctx, "read stream", err)
	}
	return evs, nil
}

// StreamVersion returns the current version of streamID (0 if it does not exist).
func (s *Store) StreamVersion(ctx context.Context, streamID string) (int64, error) {
	if s.isClosed() {
		return 0, es.ErrClosed
	}
	var v int64
	err := s.pool.QueryRow(ctx, "SELECT version FROM es_streams WHERE stream_id = $1", streamID).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.fail(ctx, "stream version", err)
	}
	return v, nil
}

// ReadAll returns up to limit events with Position > after in position order.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]es.Event, error) {
	if s.isClosed() {
		return nil, es.ErrClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT "+eventColumns+
		" FROM es_events WHERE position > $1 ORDER BY position LIMIT $2", after, limit)
	if err != nil {
		return nil, s.fail(ctx, "read all", err)
	}
	evs, err := scanEvents(rows, min(limit, 4096))
	if err != nil {
		return nil, s.fail(ctx, "read all", err)
	}
	return evs, nil
}

// Head returns the position of the last committed event.
func (s *Store) Head(ctx context.Context) (int64, error) {
	if s.isClosed() {
		return 0, es.ErrClosed
	}
	var h int64
	if err := s.pool.QueryRow(ctx, "SELECT last FROM es_position WHERE id = 1").Scan(&h); err != nil {
		return 0, s.fail(ctx, "head", err)
	}
	s.observe(h)
	return h, nil
}

// observe records that the head is at least h and wakes waiters if it grew.
func (s *Store) observe(h int64) {
	for {
		cur := s.known.Load()
		if h <= cur {
			return
		}
		if s.known.CompareAndSwap(cur, h) {
			s.broadcast()
			return
		}
	}
}

func (s *Store) broadcast() {
	s.wakeMu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.wakeMu.Unlock()
}

func (s *Store) wakeChan() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.wake
}

// Wait blocks until Head() > after, ctx is done (ctx.Err()) or the store is
// closed (ErrClosed). Woken by local commits and by NOTIFY from any process.
func (s *Store) Wait(ctx context.Context, after int64) error {
	if s.isClosed() {
		return es.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	checked := int64(-1) // the listener epoch at which the database was last asked
	tick := time.NewTicker(s.cfg.pollEvery)
	defer tick.Stop()
	for {
		ch := s.wakeChan()
		if s.known.Load() > after {
			return nil
		}
		if ep := s.epoch.Load(); ep != checked {
			h, err := s.Head(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			checked = ep
			if h > after {
				return nil
			}
		}
		select {
		case <-ch:
		case <-tick.C:
			checked = -1 // fallback: ask the database again
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return es.ErrClosed
		}
	}
}

func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	cc := s.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("postgres: listener connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("postgres: listen: %w", err)
	}
	return conn, nil
}

// listen receives the schema's notifications until ctx is done, reconnecting
// after errors (waiters then ask the database once more).
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(s.listenDone)
	backoff := 50 * time.Millisecond
	for {
		if conn == nil {
			c, err := s.connectListener(ctx)
			if err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 2*time.Second)
				continue
			}
			conn, backoff = c, 50*time.Millisecond
			s.epoch.Add(1)
			s.broadcast()
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if h, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			s.observe(h)
		}
	}
}

// SaveSnapshot stores snap, replacing a snapshot of the same stream and version.
func (s *Store) SaveSnapshot(ctx context.Context, snap es.Snapshot) error {
	if s.isClosed() {
		return es.ErrClosed
	}
	if snap.StreamID == "" {
		return errors.New("postgres: save snapshot: stream id required")
	}
	at := snap.RecordedAt
	if at.IsZero() {
		at = time.Now()
	}
	var state any
	if snap.State != nil {
		state = string(snap.State)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO es_snapshots (stream_id, version, schema_version, state, recorded_at)
		VALUES ($1, $2, $3, $4::text::jsonb, $5)
		ON CONFLICT (stream_id, version) DO UPDATE SET schema_version = EXCLUDED.schema_version,
			state = EXCLUDED.state, recorded_at = EXCLUDED.recorded_at`,
		snap.StreamID, snap.Version, snap.SchemaVersion, state, at)
	if err != nil {
		return s.fail(ctx, "save snapshot", err)
	}
	return nil
}

// LoadSnapshot returns the latest snapshot of streamID with Version <=
// maxVersion (0: any); ErrNotFound when there is none.
func (s *Store) LoadSnapshot(ctx context.Context, streamID string, maxVersion int64) (es.Snapshot, error) {
	if s.isClosed() {
		return es.Snapshot{}, es.ErrClosed
	}
	snap := es.Snapshot{StreamID: streamID}
	var state []byte
	err := s.pool.QueryRow(ctx, `SELECT version, schema_version, state, recorded_at FROM es_snapshots
		WHERE stream_id = $1 AND ($2 = 0 OR version <= $2) ORDER BY version DESC LIMIT 1`,
		streamID, maxVersion).Scan(&snap.Version, &snap.SchemaVersion, &state, &snap.RecordedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return es.Snapshot{}, es.ErrNotFound
	}
	if err != nil {
		return es.Snapshot{}, s.fail(ctx, "load snapshot", err)
	}
	if state != nil {
		snap.State = state
	}
	snap.RecordedAt = snap.RecordedAt.UTC()
	return snap, nil
}
