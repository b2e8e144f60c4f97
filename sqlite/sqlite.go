// Package sqlite is the embedded es.Store: one SQLite file per bounded context
// (pure Go, modernc.org/sqlite, no cgo), the default when Acme Commerce runs
// without external services.
//
// Design, in one paragraph: the file is in WAL mode. Every write (Commit,
// SaveSnapshot) goes through ONE writer goroutine that owns the only writing
// connection. It takes whatever commits are queued (group commit), runs them
// in one BEGIN IMMEDIATE transaction, each under its own SAVEPOINT so that a
// commit that fails (ErrConcurrency, ErrDuplicate, ErrEventIDConflict, its
// Apply's error) is rolled back alone, then COMMITs once: one WAL sync serves
// every commit of the batch. Because there is a single writer, global
// positions are assigned sequentially in commit order and are gap-free (a
// rolled-back savepoint gives its positions back), so a reader of the log can
// never pass over an event that commits later with a lower position. Reads
// (ReadStream, ReadAll, DB) use a separate pool of connections that see
// committed snapshots. Wait is woken by an in-process broadcast after each
// COMMIT (plus a slow poll so commits of another process are seen too).
// A store opened WithExclusive (the embedded server's: no other process has
// the file open) also keeps what it just committed in memory (tail.go,
// streamcache.go): ReadAll answers the relays and projections, and
// ReadStream the aggregate loads, without reading back the rows written a
// moment before (together about a fifth of a checkout's CPU). Both caches
// hold committed events only.
//
// Durability: WAL with synchronous=NORMAL by default. When COMMIT returns, the
// transaction's frames are written to the WAL file (in the OS page cache), so
// an acknowledged commit survives kill -9 of the process (TestKill9Durability
// proves it for both levels); an OS crash or power loss can lose the last
// commits but never corrupts the file. synchronous=FULL (WithSynchronous)
// also fsyncs the WAL at every COMMIT, which makes commits survive power loss
// at the price of one fsync per group transaction: measured in the same run
// (BenchmarkSynchronous, docs/benchmarks/store-sqlite.md), FULL ran
// single-event appends at about a third of NORMAL's rate with 8 writers and
// about half with 32 on this machine's disk, below the 20,000 appends/s
// target, so NORMAL is the default and FULL is for deployments that need
// power-loss durability.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an es.Store on one SQLite file.
type Store struct {
	path string
	opts options

	writeDB *sql.DB   // one connection, owned by the writer goroutine
	conn    *sql.Conn // the writer's connection
	stmts   writeStmts
	readDB  *sql.DB    // readers, DB(), migrations
	read    readPool   // readDB with prepared statements: DB() and the store's reads
	txStmts *stmtCache // Commit.Apply's statements, prepared on conn (writer goroutine)

	reqs       chan *request
	writerDone chan struct{}
	mu         sync.RWMutex // guards closed and sending on reqs
	closed     bool
	closedFlag atomic.Bool // closed, for readers that must not wait on mu
	closedCh   chan struct{}
	closeOnce  sync.Once
	closeErr   error

	head         atomic.Int64 // last committed position (this process's view)
	tail         *tailCache   // the newest events committed here, for ReadAll (WithExclusive only)
	streams      *streamCache // the streams written here, for ReadStream (WithExclusive only)
	lock         *os.File     // WithExclusive's lock
	lastRecorded int64        // unix micros of the last batch; writer goroutine only

	sigMu sync.Mutex
	sig   chan struct{} // closed and replaced after every COMMIT

	migrateMu sync.Mutex

	txs, commits atomic.Int64 // for Stats
}

// Stats are the writer's counters since Open.
type Stats struct {
	Transactions int64 // group transactions committed
	Requests     int64 // commits and snapshots they carried
}

// BatchSize is the average number of requests per group transaction.
func (s *Store) BatchSize() float64 {
	st := s.Stats()
	if st.Transactions == 0 {
		return 0
	}
	return float64(st.Requests) / float64(st.Transactions)
}

// Stats returns the writer's counters; Requests/Transactions is the average
// group-commit batch size.
func (s *Store) Stats() Stats {
	return Stats{Transactions: s.txs.Load(), Requests: s.commits.Load()}
}

var _ es.Store = (*Store)(nil)

type options struct {
	synchronous  string
	busyTimeout  time.Duration
	maxBatch     int
	readConns    int
	pollInterval time.Duration
	exclusive    bool
}

// Option configures Open.
type Option func(*options)

// ErrInUse: WithExclusive found the file open by another process.
var ErrInUse = errors.New("store in use by another process")

// WithExclusive makes this store the file's only user: Open takes the lock
// file <path>.lock exclusively (released by Close or the process's end) and
// fails with ErrInUse while any other store has the file open; without it
// Open takes the lock shared, so several stores (processes) may share a file
// and an exclusive open waits for none of them. Only an exclusive store keeps
// what it commits in memory for its reads (ReadAll's tail, ReadStream's
// streams): with another writer those could be stale. The embedded server
// opens its stores so.
func WithExclusive() Option { return func(o *options) { o.exclusive = true } }

// WithSynchronous sets PRAGMA synchronous: "NORMAL" (default: an acknowledged
// commit survives a process crash, kill -9) or "FULL" (it also survives power
// loss; one fsync per group transaction). See the package doc.
func WithSynchronous(mode string) Option {
	return func(o *options) { o.synchronous = strings.ToUpper(mode) }
}

// WithBusyTimeout sets how long a connection waits for a lock held by another
// connection or process (default 10 s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithMaxBatch caps how many queued commits one transaction groups (default 1024).
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithReadConns sets the size of the read connection pool (default 8).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// WithPollInterval sets how often Wait also checks the file for commits made by
// another process (default 1 s). Commits of this process wake Wait at once.
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// Open opens (creating if needed) the store in the SQLite file at path and
// applies the store's own migrations.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{synchronous: "NORMAL", busyTimeout: 10 * time.Second, maxBatch: 1024, readConns: 8, pollInterval: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	switch o.synchronous {
	case "FULL", "NORMAL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite: synchronous must be FULL, NORMAL or EXTRA, not %q", o.synchronous)
	}
	if o.maxBatch < 1 {
		o.maxBatch = 1
	}
	if o.readConns < 1 {
		o.readConns = 1
	}
	if strings.ContainsAny(path, "?#") || path == "" || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("sqlite: invalid store path %q (a file path without ? or #)", path)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// temp_store(2): temporary files in memory. Each commit of a group runs
	// under its own SAVEPOINT, whose sub-journal was otherwise a temporary
	// file written page by page: a fifth of a checkout's CPU went to it.
	dsn := path + "?_pragma=busy_timeout(" + fmt.Sprint(o.busyTimeout.Milliseconds()) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(" + o.synchronous + ")" +
		"&_pragma=foreign_keys(1)&_pragma=temp_store(2)&_txlock=immediate"

	s := &Store{
		path:       path,
		opts:       o,
		reqs:       make(chan *request, 4096),
		writerDone: make(chan struct{}),
		closedCh:   make(chan struct{}),
		sig:        make(chan struct{}),
	}
	var err error
	// Every open takes the lock file: shared, or exclusive WithExclusive, so
	// an exclusive store really has the file to itself.
	if s.lock, err = lockFile(path+".lock", o.exclusive); err != nil {
		return nil, err
	}
	if o.exclusive {
		s.tail, s.streams = newTailCache(tailCacheSize), newStreamCache()
	}
	if s.writeDB, err = sql.Open("sqlite", dsn); err != nil {
		s.unlock()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.writeDB.SetMaxOpenConns(1)
	s.writeDB.SetMaxIdleConns(1)
	s.writeDB.SetConnMaxLifetime(0)
	s.writeDB.SetConnMaxIdleTime(0)
	fail := func(err error) (*Store, error) {
		if s.conn != nil {
			s.conn.Close()
		}
		s.writeDB.Close()
		if s.readDB != nil {
			s.readDB.Close()
		}
		s.unlock()
		return nil, err
	}
	// The writer connection is opened first: it switches the file to WAL.
	if s.conn, err = s.writeDB.Conn(ctx); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
	}
	if s.readDB, err = sql.Open("sqlite", dsn); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
	}
	s.readDB.SetMaxOpenConns(o.readConns)
	s.readDB.SetMaxIdleConns(o.readConns)
	s.readDB.SetConnMaxIdleTime(0)
	s.readDB.SetConnMaxLifetime(0)
	s.read = readPool{db: s.readDB, cache: newStmtCache(s.readDB.PrepareContext)}
	s.txStmts = newStmtCache(func(_ context.Context, q string) (*sql.Stmt, error) { return s.conn.PrepareContext(bg, q) })

	sub, _ := fs.Sub(migrations, "migrations")
	if err := s.migrate(ctx, "es", sub); err != nil {
		return fail(err)
	}
	if err := s.stmts.prepare(ctx, s.conn); err != nil {
		return fail(fmt.Errorf("sqlite: prepare: %w", err))
	}
	var head, last int64
	if err := s.conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0), COALESCE(MAX(recorded_at), 0) FROM events`).Scan(&head, &last); err != nil {
		s.stmts.close()
		s.txStmts.close()
		s.read.cache.close()
		return fail(fmt.Errorf("sqlite: read head: %w", err))
	}
	s.head.Store(head)
	s.lastRecorded = last
	s.optimize(ctx)
	go s.run()
	go s.optimizeEvery(optimizeInterval)
	return s, nil
}

// optimizeInterval is how often the planner's statistics are refreshed.
const optimizeInterval = 10 * time.Minute

// optimize refreshes the query planner's statistics (PRAGMA optimize: an
// ANALYZE, bounded by analysis_limit, of the tables that changed a lot since
// the last one). Without them SQLite cannot tell a selective index from a
// broad one: a read model's filter on a small category scanned the whole
// newest-first index (3 ms) instead of the category's rows (0.7 ms).
// Best effort: a failure only leaves the old statistics.
func (s *Store) optimize(ctx context.Context) {
	_, _ = s.readDB.ExecContext(ctx, `PRAGMA analysis_limit = 20000; PRAGMA optimize = 0x10002`)
}

func (s *Store) optimizeEvery(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.closedCh:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			s.optimize(ctx)
			cancel()
		}
	}
}

// Opener returns an es.Opener that opens <dataDir>/<name>.db, creating dataDir.
func Opener(dataDir string, opts ...Option) es.Opener {
	return func(ctx context.Context, name string) (es.Store, error) {
		if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return nil, fmt.Errorf("sqlite: invalid store name %q", name)
		}
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: data dir: %w", err)
		}
		s, err := Open(ctx, filepath.Join(dataDir, name+".db"), opts...)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Dialect is "sqlite".
func (s *Store) Dialect() string { return "sqlite" }

// DB is the read pool: statements are autocommitted and run prepared (each
// distinct query text is parsed once; see stmtCache). Prefer Commit.Apply for
// read-model writes.
func (s *Store) DB() es.SQL { return s.read }

// Close stops accepting work, lets the writer finish every queued commit, and
// closes the file. Later calls return nil; every other method returns
// es.ErrClosed after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closedFlag.Store(true)
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		<-s.writerDone
		close(s.closedCh)
		s.stmts.close()
		s.txStmts.close()
		s.read.cache.close()
		errs := []error{s.conn.Close(), s.writeDB.Close(), s.readDB.Close()}
		s.unlock()
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// unlock releases WithExclusive's lock.
func (s *Store) unlock() {
	if s.lock != nil { // nil where the system has no advisory locks
		s.lock.Close()
		s.lock = nil
	}
}

// isClosed does not take mu: a Commit.Apply running on the writer may read
// while Close waits for mu.
func (s *Store) isClosed() bool { return s.closedFlag.Load() }

// Migrate applies the goose migrations in fsys for owner, recording them in
// the owner's own version table goose_<owner>. Idempotent; calls are serialised.
func (s *Store) Migrate(ctx context.Context, owner string, fsys fs.FS) error {
	if s.isClosed() {
		return es.ErrClosed
	}
	if owner == "" || owner == "es" {
		return fmt.Errorf("sqlite: migrate: invalid owner %q", owner)
	}
	return s.migrate(ctx, owner, fsys)
}

func (s *Store) migrate(ctx context.Context, owner string, fsys fs.FS) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", owner, err)
	}
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	p, err := goose.NewProvider(goose.DialectSQLite3, s.readDB, fsys,
		goose.WithTableName(VersionTable(owner)),
		goose.WithDisableGlobalRegistry(true))
	if errors.Is(err, goose.ErrNoMigrations) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", owner, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", owner, err)
	}
	return nil
}

// VersionTable is the goose version table of a migration owner:
// "goose_" + owner with every character outside [a-z0-9_] replaced by '_'.
func VersionTable(owner string) string {
	b := []byte("goose_" + strings.ToLower(owner))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// signal returns the channel closed at the next commit.
func (s *Store) signal() <-chan struct{} {
	s.sigMu.Lock()
	defer s.sigMu.Unlock()
	return s.sig
}

func (s *Store) broadcast() {
	s.sigMu.Lock()
	close(s.sig)
	s.sig = make(chan struct{})
	s.sigMu.Unlock()
}
