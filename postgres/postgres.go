// Package postgres is the PostgreSQL event store (es.Store) of server mode:
// one schema per bounded context, pgx v5, migrations embedded and applied at
// Open with goose.
//
// # Tables (in the context's schema)
//
// es_events (the log: position PK, id UNIQUE, UNIQUE(stream_id, version)),
// es_streams (current version per stream), es_position (one row: the last
// position handed out), es_inbox (committed Commit.InboxIDs), es_snapshots,
// and goose_<owner> version tables. The context's read models live beside them
// and are reached unqualified through DB(), whose connections have search_path
// set to the schema.
//
// # Group commit
//
// Commit does not talk to the database itself: it queues the unit for the
// Store's writer goroutine, which takes every commit queued at that moment (up
// to a bound; it lingers up to 200µs after the last arrival, at most a quarter
// of the previous batch's time, so the appenders it just answered join the
// next batch) and stores them in ONE transaction, so one WAL flush serves many
// appenders. Each commit is checked on its own, in queue order, against the
// database state plus the commits before it in the batch: inbox duplicate
// (ErrDuplicate), event ids already stored (identical: the originals are
// returned; different: ErrEventIDConflict), every Append's expected version
// (ErrConcurrency). A rejected commit changes nothing and does not disturb the
// others. Rows are written with one multi-row INSERT ... SELECT FROM
// unnest(arrays) per table. A batch takes one of three paths:
//
//   - Optimistic, one round trip (every append states its expected version,
//     no Apply: the command path's normal case). The batch is planned in
//     memory assuming each stream is at the version its first append expects;
//     one pipeline then locks the streams, checks all the assumptions at once
//     (es_assert fails the transaction unless every stream was at the assumed
//     version), takes the position lock, inserts and commits. Any failure
//     rolls back and the batch goes down the next path.
//   - Read first, two round trips: lock the batch's streams and read their
//     versions (and inbox ids), decide each commit in memory, then one
//     pipeline: position lock, inserts, COMMIT.
//   - With an Apply (inline read models) or after an unexpected failure:
//     the position lock is taken in the first round trip (Apply must see the
//     events' positions), and each commit runs under its own SAVEPOINT: its
//     events are inserted, Apply runs through the same connection (a
//     *sql.Conn inside the transaction), and a failing Apply or statement
//     rolls back to the savepoint, alone. A unique violation is translated
//     (stream/version → ErrConcurrency, id → ErrEventIDConflict, inbox →
//     ErrDuplicate), never leaked as a raw driver error. This path also looks
//     up the batch's event ids, which the fast paths leave to the UNIQUE
//     index (an idempotent re-append fails the fast insert and is redone here).
//
// Every path locks the batch's streams first, all at once in stream id order
// (INSERT ... ON CONFLICT DO UPDATE creates missing ones at version 0), then
// the position row: one global lock order, so batches of any process cannot
// deadlock. The stream row locks make the expected-version check exact across
// processes; UNIQUE(stream_id, version) on es_events is the backstop.
//
// # Never skip
//
// The classic BIGSERIAL race: transaction A takes position 10, B takes 11, B
// commits, a reader reads up to 11, then A commits 10 — the reader skipped 10.
// Here positions come from the one-row es_position counter: at the end of the
// batch, in the same pipeline as the INSERT and COMMIT, `UPDATE es_position
// SET last = last + n RETURNING last` takes its row lock, and the batch's
// events get last-n+1 .. last. The lock is held until COMMIT, so batches of
// every process writing the schema are serialized on it, each continuing
// where the previous COMMITTED one stopped: positions are gap-free and in
// commit order, and a reader's "WHERE position > $1 ORDER BY position" can
// never pass over an event that becomes visible later. (PostgreSQL makes a
// transaction visible before it releases its locks, so the next batch's
// events cannot be seen before the previous batch's.) The lock window is only
// the server side of that last pipeline — the inserts and the WAL flush —
// never a client round trip, except on the Apply path, where Apply runs
// inside it. The batch's recorded time is also taken under the lock
// (es_position.at), so recorded_at never decreases along the log.
//
// The price is that batches cannot share a WAL flush with each other (the
// next one waits for the lock until the previous flush is done); group commit
// in the writer makes up for it by putting many appends in each batch. See
// docs/benchmarks/store-postgres.md.
//
// # Wait
//
// Every batch that stores events calls pg_notify on the schema's channel
// (payload: the new head); a dedicated connection per Store LISTENs on it, so
// commits by other processes wake Wait too. Local commits also broadcast in
// process. A slow fallback poll covers a listener that is reconnecting.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Option configures Open.
type Option func(*config)

type config struct {
	maxConns     int32
	writers      int           // batches in flight
	lingerGap    time.Duration // see writer
	optimistic   bool          // one-round-trip batches when every append states its version
	maxBatch     int           // commits per batch
	maxEvents    int           // events per batch
	maxBytes     int           // payload bytes per batch
	batchTimeout time.Duration // bound on one batch transaction
	pollEvery    time.Duration // Wait's fallback poll
}

// WithMaxConns bounds the connection pool (default 8).
func WithMaxConns(n int) Option { return func(c *config) { c.maxConns = int32(n) } }

// WithWriters sets how many batches may be in flight at once (default 2):
// while one batch waits for its COMMIT (WAL flush), the next has already
// queued behind the position lock, so it starts the moment the lock is free.
// The position lock, not the writer count, orders the batches.
func WithWriters(n int) Option { return func(c *config) { c.writers = max(n, 1) } }

// WithLinger sets how long the writer waits for more commits after the last
// arrival before starting a batch (default 200µs; 0 disables lingering). The
// wait never exceeds a quarter of the previous batch's duration.
func WithLinger(gap time.Duration) Option { return func(c *config) { c.lingerGap = gap } }

// WithOptimistic turns the one-round-trip batch on or off (default on); see
// the package doc.
func WithOptimistic(on bool) Option { return func(c *config) { c.optimistic = on } }

// WithMaxBatch bounds how many commits the writer groups into one transaction
// (default 512).
func WithMaxBatch(n int) Option { return func(c *config) { c.maxBatch = n } }

// WithWaitPoll sets how often Wait asks the database when no notification
// came (a fallback for a reconnecting listener; default 1s).
func WithWaitPoll(d time.Duration) Option { return func(c *config) { c.pollEvery = d } }

// Store is the event store of one bounded context: a PostgreSQL schema.
type Store struct {
	schema  string
	channel string
	cfg     config
	pool    *pgxpool.Pool
	db      *sql.DB

	reqs       chan *request
	closeMu    sync.RWMutex
	closed     bool
	closing    chan struct{}
	writers    sync.WaitGroup
	listenStop context.CancelFunc
	listenDone chan struct{}
	closeOnce  sync.Once

	lastExec atomic.Int64 // duration of the last batch (linger bound)

	known  atomic.Int64 // highest head observed (local commits, notifications)
	epoch  atomic.Int64 // bumped when the listener reconnects
	wakeMu sync.Mutex
	wake   chan struct{} // closed and replaced on every signal
}

var _ es.Store = (*Store)(nil)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open opens (creating it if missing, and migrating it) the event store in
// schema of the PostgreSQL database at url. Schema names are lower-case
// identifiers ([a-z_][a-z0-9_]*, at most 63 bytes).
func Open(ctx context.Context, url, schema string, opts ...Option) (*Store, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("postgres: invalid schema name %q (want [a-z_][a-z0-9_]*, at most 63 bytes)", schema)
	}
	cfg := config{writers: 1, optimistic: true, lingerGap: 200 * time.Microsecond, maxConns: 8, maxBatch: 512, maxEvents: 20000, maxBytes: 32 << 20,
		batchTimeout: time.Minute, pollEvery: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	pc.MaxConns = cfg.maxConns
	pc.MaxConnIdleTime = time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{
		schema:     schema,
		channel:    channelName(schema),
		cfg:        cfg,
		pool:       pool,
		db:         stdlib.OpenDBFromPool(pool),
		reqs:       make(chan *request, 4096),
		closing:    make(chan struct{}),
		listenDone: make(chan struct{}),
		wake:       make(chan struct{}),
	}
	fail := func(err error) (*Store, error) {
		s.db.Close()
		pool.Close()
		return nil, err
	}
	if err := s.createSchema(ctx); err != nil {
		return fail(err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fail(err)
	}
	if err := s.Migrate(ctx, "es", sub); err != nil {
		return fail(err)
	}
	lconn, err := s.connectListener(ctx)
	if err != nil {
		return fail(err)
	}
	if h, err := s.Head(ctx); err == nil {
		s.observe(h)
	}
	lctx, stop := context.WithCancel(context.Background())
	s.listenStop = stop
	go s.listen(lctx, lconn)
	for range cfg.writers {
		s.writers.Add(1)
		go s.writer()
	}
	return s, nil
}

// Opener opens the store of context name in schema <schemaPrefix><name>.
func Opener(url, schemaPrefix string, opts ...Option) es.Opener {
	return func(ctx context.Context, name string) (es.Store, error) {
		return Open(ctx, url, schemaPrefix+name, opts...)
	}
}

// Schema returns the store's schema name.
func (s *Store) Schema() string { return s.schema }

// Dialect returns "postgres".
func (s *Store) Dialect() string { return "postgres" }

// DB returns the context's database (search_path set to its schema) for
// read-model queries.
func (s *Store) DB() es.SQL { return s.db }

// SQLDB is DB as a *sql.DB.
func (s *Store) SQLDB() *sql.DB { return s.db }

// Close stops the writer after the queued commits are stored, stops the
// listener and closes the connections. Later calls return ErrClosed.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.closeMu.Lock()
		s.closed = true
		close(s.reqs)
		close(s.closing)
		s.closeMu.Unlock()
		s.writers.Wait()
		s.listenStop()
		<-s.listenDone
		s.db.Close()
		s.pool.Close()
	})
	if !first {
		return es.ErrClosed
	}
	return nil
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// fail turns an error of op into what callers see: ErrClosed after Close,
// the context's error when ctx is done, else the wrapped error.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if s.isClosed() {
		return fmt.Errorf("postgres: %s: %w", op, es.ErrClosed)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("postgres: %s: %w", op, ctx.Err())
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// lockKey is the advisory lock serializing schema creation and migrations.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("acme-migrate:" + schema))
	return int64(h.Sum64())
}

func channelName(schema string) string {
	if len(schema) <= 60 {
		return "es." + schema
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("es.%x", h.Sum64())
}

func (s *Store) createSchema(ctx context.Context) error {
	return s.withMigrationLock(ctx, func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: create schema %s: %w", s.schema, err)
		}
		return nil
	})
}

// withMigrationLock runs fn holding the schema's advisory lock, so processes
// starting together create and migrate the schema once.
func (s *Store) withMigrationLock(ctx context.Context, fn func(*sql.Conn) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close()
	key := lockKey(s.schema)
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	return fn(conn)
}

var ownerChars = regexp.MustCompile(`[^a-z0-9_]+`)

// versionTable is goose's version table of owner: goose_<owner>.
func versionTable(owner string) string {
	name := "goose_" + strings.Trim(ownerChars.ReplaceAllString(strings.ToLower(owner), "_"), "_")
	if len(name) > 63 {
		h := fnv.New64a()
		h.Write([]byte(owner))
		name = fmt.Sprintf("%s_%x", name[:46], h.Sum64())
	}
	return name
}

// Migrate applies the goose migrations in fsys for owner, recording them in
// the table goose_<owner> of the schema. Idempotent; safe across processes.
func (s *Store) Migrate(ctx context.Context, owner string, fsys fs.FS) error {
	if s.isClosed() {
		return es.ErrClosed
	}
	if owner == "" {
		return errors.New("postgres: migrate: owner required")
	}
	return s.withMigrationLock(ctx, func(*sql.Conn) error {
		p, err := goose.NewProvider(goose.DialectPostgres, s.db, fsys,
			goose.WithTableName(versionTable(owner)), goose.WithDisableGlobalRegistry(true))
		if errors.Is(err, goose.ErrNoMigrations) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", owner, err)
		}
		if _, err := p.Up(ctx); err != nil {
			return s.fail(ctx, "migrate "+owner, err)
		}
		return nil
	})
}
