package platform

import (
	"context"
	"slices"
	"strings"
	"time"

	"acme/es"
)

// Consumer positions: how far each consumer has applied each source
// context's log. A consumer notes the position of every message it applies
// in memory; once a second, and when the platform closes, each host writes
// what moved to its store as checkpoint rows
// "consumer-position:<consumer>:<source>", keeping the larger of the stored
// and the new value (processes share the rows in server mode, and a
// redelivered older message never moves one back).
// GET /api/v1/admin/consumers reads the rows, so every process answers alike
// and a restart keeps them.

const positionPrefix = "consumer-position:"

// positionEvery is how often the hosts write the positions that moved.
const positionEvery = time.Second

func positionCheckpoint(consumer, source string) string {
	return positionPrefix + consumer + ":" + source
}

// noteApplied records that the consumer applied the message at pos of
// source's log. Keyed lanes and retries apply out of order: a position is
// the highest applied, not a guarantee that all before it were.
func (c *consumer) noteApplied(source string, pos int64) {
	c.posMu.Lock()
	defer c.posMu.Unlock()
	if pos > c.positions[source] {
		if c.positions == nil {
			c.positions, c.moved = map[string]int64{}, map[string]bool{}
		}
		c.positions[source], c.moved[source] = pos, true
	}
}

// flushPositions writes the positions of h's consumers that moved since the
// last flush (one commit; none when nothing moved).
func (h *host) flushPositions(ctx context.Context) error {
	type row struct {
		name string
		pos  int64
	}
	var rows []row
	var marked []*consumer
	for _, c := range h.consumers {
		c.posMu.Lock()
		for s := range c.moved {
			rows = append(rows, row{positionCheckpoint(c.full, s), c.positions[s]})
		}
		if len(c.moved) > 0 {
			marked = append(marked, c)
		}
		clear(c.moved)
		c.posMu.Unlock()
	}
	if len(rows) == 0 {
		return nil
	}
	// One order for every process: two flushes of the same rows in
	// PostgreSQL cannot deadlock.
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.name, b.name) })
	_, err := h.store.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO platform_checkpoints (name, position, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at,
	position = CASE WHEN excluded.position > platform_checkpoints.position THEN excluded.position ELSE platform_checkpoints.position END`,
				r.name, r.pos, checkpointTime()); err != nil {
				return err
			}
		}
		return nil
	}})
	if err != nil {
		for _, c := range marked { // written next time
			c.posMu.Lock()
			for s := range c.positions {
				c.moved[s] = true
			}
			c.posMu.Unlock()
		}
	}
	return err
}

// storedPositions reads h's consumer positions: consumer → source → position.
func (h *host) storedPositions(ctx context.Context) (map[string]map[string]int64, error) {
	rows, err := h.store.DB().QueryContext(ctx, `SELECT name, position FROM platform_checkpoints WHERE name LIKE 'consumer-position:%'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var name string
		var pos int64
		if err := rows.Scan(&name, &pos); err != nil {
			return nil, err
		}
		consumer, source, ok := strings.Cut(strings.TrimPrefix(name, positionPrefix), ":")
		if !ok {
			continue
		}
		if out[consumer] == nil {
			out[consumer] = map[string]int64{}
		}
		out[consumer][source] = pos
	}
	return out, rows.Err()
}

// positionsOf merges c's stored positions with what it applied since the
// last flush.
func (c *consumer) positionsOf(stored map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for s, p := range stored {
		out[s] = p
	}
	c.posMu.Lock()
	for s, p := range c.positions {
		out[s] = max(out[s], p)
	}
	c.posMu.Unlock()
	return out
}

// writePositions flushes every host's consumer positions every
// positionEvery until ctx ends.
func (p *Platform) writePositions(ctx context.Context) {
	t := time.NewTicker(positionEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, name := range p.order {
			if err := p.hosts[name].flushPositions(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("consumer positions not written; retried", "context", name, "err", err)
			}
		}
	}
}
