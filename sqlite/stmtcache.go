package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// stmtCache keeps one prepared statement per query text. The driver keeps a
// prepared statement's compiled program, so a cached query is parsed once,
// not at every run (parsing was 10-20 % of a read model's CPU).
type stmtCache struct {
	prepare func(ctx context.Context, q string) (*sql.Stmt, error)

	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// maxCachedStmts bounds the cache: queries built at run time (IN lists of
// varying length) beyond it run unprepared.
const maxCachedStmts = 512

func newStmtCache(prepare func(ctx context.Context, q string) (*sql.Stmt, error)) *stmtCache {
	return &stmtCache{prepare: prepare, m: map[string]*sql.Stmt{}}
}

// stmt returns q prepared, or nil when q is to run unprepared: a script of
// several statements, a query that does not prepare (its run reports why),
// or a full cache.
func (c *stmtCache) stmt(ctx context.Context, q string) *sql.Stmt {
	c.mu.RLock()
	st, full := c.m[q], len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if st != nil {
		return st
	}
	if full || strings.Contains(strings.TrimRight(strings.TrimSpace(q), ";"), ";") {
		return nil
	}
	// Prepared without the lock: preparing may wait for a free connection,
	// and the queries already cached must not wait for it.
	st, err := c.prepare(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[q]; prev != nil { // another caller prepared it meanwhile
		_ = st.Close()
		return prev
	}
	if len(c.m) >= maxCachedStmts {
		_ = st.Close()
		return nil
	}
	c.m[q] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
}

// readPool is DB(): the read connections, running each query as a statement
// prepared once (database/sql prepares it on each connection it runs on).
type readPool struct {
	db    *sql.DB
	cache *stmtCache
}

func (r readPool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := r.cache.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return r.db.ExecContext(ctx, q, args...)
}

func (r readPool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := r.cache.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.db.QueryContext(ctx, q, args...)
}

func (r readPool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := r.cache.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.db.QueryRowContext(ctx, q, args...)
}
