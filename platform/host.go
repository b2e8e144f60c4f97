package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"acme/es"
)

// host is one context's es.Host.
type host struct {
	p           *Platform
	name        string
	store       es.Store
	relay       *relay
	consumers   []*consumer
	projections []*projection
}

var _ es.Host = (*host)(nil)

func (h *host) Name() string           { return h.name }
func (h *host) Store() es.Store        { return h.store }
func (h *host) Registry() *es.Registry { return h.p.cfg.Registry }
func (h *host) NewID() string          { return h.p.cfg.NewID() }

// Consume registers a durable consumer "<context>.<name>" (bus durable name
// "<context>_<name>"). Registering after Start or twice with one name panics:
// it is a wiring error.
func (h *host) Consume(name string, types []string, handler es.Handler) {
	h.register("Consume", name, types, handler, nil)
}

// ConsumeBatch registers a consumer whose handler applies several pending
// messages in one commit (consumer.workBatch); one message at a time it is the
// same handler called with a one-message batch.
func (h *host) ConsumeBatch(name string, types []string, batch es.BatchHandler) {
	one := func(ctx context.Context, m es.Message) (es.Commit, error) { return batch(ctx, []es.Message{m}) }
	h.register("ConsumeBatch", name, types, one, batch)
}

func (h *host) register(method, name string, types []string, handler es.Handler, batch es.BatchHandler) {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	if h.p.started {
		panic(fmt.Sprintf("platform: %s.%s(%q) after Start", h.name, method, name))
	}
	full := h.name + "." + name
	for _, c := range h.consumers {
		if c.full == full {
			panic(fmt.Sprintf("platform: consumer %s registered twice", full))
		}
	}
	c := &consumer{h: h, name: name, full: full, durable: durableName(h.name, name),
		types: append([]string(nil), types...), handler: handler, batch: batch}
	c.status.Store("stopped")
	h.consumers = append(h.consumers, c)
}

// Project registers an asynchronous projection over the context's own log.
func (h *host) Project(pr es.Projection) {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	if h.p.started {
		panic(fmt.Sprintf("platform: %s.Project(%q) after Start", h.name, pr.Name))
	}
	if pr.Name == "" || pr.Apply == nil {
		panic("platform: a projection needs a Name and Apply")
	}
	for _, x := range h.projections {
		if x.p.Name == pr.Name {
			panic(fmt.Sprintf("platform: projection %s registered twice", pr.Name))
		}
	}
	x := &projection{h: h, p: pr, rebuildReq: make(chan struct{}, 1)}
	x.status.Store("stopped")
	h.projections = append(h.projections, x)
}

// durableName is the bus consumer name: "<context>_<name>" with anything but
// letters, digits, '_' and '-' replaced by '_'.
func durableName(ctxName, name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, ctxName+"_"+name)
}

// Checkpoints live in the context's own database (table platform_checkpoints),
// named "relay" and "projection:<name>".
const relayCheckpoint = "relay"

func projectionCheckpoint(name string) string { return "projection:" + name }

// rebuildRequested counts the rebuilds of projection name asked for, in any
// process; rebuildDone is the count its last rebuild answered.
func rebuildRequested(name string) string { return "projection-rebuild-requested:" + name }
func rebuildDone(name string) string      { return "projection-rebuild-done:" + name }

func readCheckpoint(ctx context.Context, s es.Store, name string) (int64, error) {
	var pos int64
	err := s.DB().QueryRowContext(ctx, `SELECT position FROM platform_checkpoints WHERE name = $1`, name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read checkpoint %s: %w", name, err)
	}
	return pos, nil
}

// writeCheckpoint stores a checkpoint through tx (inside a Commit's Apply).
func writeCheckpoint(ctx context.Context, tx es.SQL, name string, pos int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO platform_checkpoints (name, position, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
		name, pos, checkpointTime())
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", name, err)
	}
	return nil
}

// bumpCheckpoint adds one to a checkpoint used as a counter (0 when absent)
// through tx.
func bumpCheckpoint(ctx context.Context, tx es.SQL, name string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO platform_checkpoints (name, position, updated_at) VALUES ($1, 1, $2)
ON CONFLICT (name) DO UPDATE SET position = platform_checkpoints.position + 1, updated_at = excluded.updated_at`,
		name, checkpointTime())
	if err != nil {
		return fmt.Errorf("bump checkpoint %s: %w", name, err)
	}
	return nil
}

func checkpointTime() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000Z") }
