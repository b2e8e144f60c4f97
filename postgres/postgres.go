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
// Commit does not talk to the database itself: it queues the unit for one
// writer goroutine per Store, which takes every commit queued at that moment
// (up to a bound) and stores them in ONE transaction, so one WAL flush serves
// many appenders. A batch costs two round trips when no commit has an Apply:
//
//  1. BEGIN; lock es_position (SELECT ... FOR UPDATE); read the current
//     versions of the batch's streams, its inbox ids and any already stored
//     event ids (pipelined).
//  2. In memory, each commit is checked in queue order against that state plus
//     the commits before it in the batch: inbox duplicate (ErrDuplicate), event
//     ids already stored (identical: the originals are returned; different:
//     ErrEventIDConflict), every Append's expected version (ErrConcurrency).
//     A rejected commit changes nothing and does not disturb the others.
//     Accepted commits get their versions and consecutive positions.
//  3. One multi-row INSERT ... SELECT FROM unnest(arrays) for all events, one
//     upsert of es_streams, one insert of inbox ids, UPDATE es_position,
//     pg_notify, COMMIT (pipelined).
//
// A commit with an Apply (inline read models) runs under its own SAVEPOINT:
// its events are inserted, Apply runs through the same connection (a *sql.Conn
// inside the transaction), and a failing Apply rolls back to the savepoint,
// alone. If a statement that serves several commits fails (it should not: the
// checks are done first), the transaction is rolled back and the batch is
// redone with every commit under its own savepoint, so the failure is
// attributed to the one commit that caused it; a unique violation is
// translated (stream/version → ErrConcurrency, id → ErrEventIDConflict, inbox
// → ErrDuplicate), never leaked as a raw driver error.
//
// # Never skip
//
// The classic BIGSERIAL race: transaction A takes position 10, B takes 11, B
// commits, a reader reads up to 11, then A commits 10 — the reader skipped 10.
// Here positions come from the one-row es_position counter, and the batch
// transaction locks that row first and holds the lock until COMMIT. So
// batches (of this process and of every other process writing the schema)
// are serialized on it, each continuing where the previous COMMITTED one
// stopped: positions are gap-free and assigned in commit order, and a reader's
// "WHERE position > $1 ORDER BY position" can never pass over an event that
// becomes visible later. PostgreSQL marks a transaction committed (visible)
// before it releases its locks, so the next batch that reads es_position sees
// the previous batch's events already.
//
// The lock is taken at the start of the batch rather than at the end because
// Apply needs the events "as stored", positions included. The price is small:
// the lock window is the batch's two round trips plus the WAL flush, which any
// commit-ordered scheme must hold anyway (the flush happens before the lock is
// released). Within a process there is one writer, so the lock is uncontended;
// across processes, batches alternate.
//
// The expected-version check reads es_streams under that lock, so it cannot
// race; UNIQUE(stream_id, version) on es_events is the backstop.
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
	maxBatch     int           // commits per batch
	maxEvents    int           // events per batch
	maxBytes     int           // payload bytes per batch
	batchTimeout time.Duration // bound on one batch transaction
	pollEvery    time.Duration // Wait's fallback poll
}

// WithMaxConns bounds the connection pool (default 8).
func WithMaxConns(n int) Option { return func(c *config) { c.maxConns = int32(n) } }

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
	writerDone chan struct{}
	listenStop context.CancelFunc
	listenDone chan struct{}
	closeOnce  sync.Once

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
	cfg := config{maxConns: 8, maxBatch: 512, maxEvents: 20000, maxBytes: 32 << 20,
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
		writerDone: make(chan struct{}),
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
	go s.writer()
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
		<-s.writerDone
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
