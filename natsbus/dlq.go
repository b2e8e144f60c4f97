package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"acme/es"
)

// DeadLetter publishes d to acme.dlq.<consumer> in ACME_DLQ: the original
// message (headers and body) plus the dead-letter headers. Its id is the stream
// sequence, or d.ID when given (a dead letter stored again after a failed
// retry keeps the id operators know it by; the platform then removes the
// older copy, the lower sequence).
func (b *Bus) DeadLetter(ctx context.Context, d es.DeadLetter) error {
	if b.isClosed() {
		return es.ErrClosed
	}
	if d.DeadAt.IsZero() {
		d.DeadAt = time.Now().UTC()
	}
	m := encode(b.opts.Prefix+dlqSubjectPrefix+strings.ReplaceAll(d.Consumer, ".", "_"), d.Message)
	if d.ID != "" {
		m.Header.Set(HeaderDLQID, d.ID)
	}
	m.Header.Set(HeaderDLQConsumer, d.Consumer)
	m.Header.Set(HeaderDLQSubject, d.Subject)
	m.Header.Set(HeaderDLQError, d.Error)
	m.Header.Set(HeaderDLQDeliveries, strconv.Itoa(d.Deliveries))
	m.Header.Set(HeaderDLQDeadAt, d.DeadAt.UTC().Format(timeFormat))
	// No dedup id: the same message may die again after a failed retry.
	if _, err := b.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("natsbus: dead letter: %w", err)
	}
	return nil
}

// DeadLetters reads ACME_DLQ from its first to its last sequence.
func (b *Bus) DeadLetters(ctx context.Context, limit int) ([]es.DeadLetter, error) {
	out := []es.DeadLetter{}
	err := b.eachDeadLetter(ctx, func(_ uint64, d es.DeadLetter) bool {
		out = append(out, d)
		return limit <= 0 || len(out) < limit
	})
	return out, err
}

// eachDeadLetter calls f with each dead letter and its sequence, in order,
// until f returns false.
func (b *Bus) eachDeadLetter(ctx context.Context, f func(seq uint64, d es.DeadLetter) bool) error {
	if b.isClosed() {
		return es.ErrClosed
	}
	st, err := b.js.Stream(ctx, b.opts.Prefix+DLQStream)
	if err != nil {
		return fmt.Errorf("natsbus: dlq: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("natsbus: dlq: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("natsbus: dlq message %d: %w", seq, err)
		}
		h := raw.Header
		id := h.Get(HeaderDLQID)
		if id == "" {
			id = strconv.FormatUint(raw.Sequence, 10)
		}
		d := es.DeadLetter{
			ID:       id,
			Consumer: h.Get(HeaderDLQConsumer),
			Subject:  h.Get(HeaderDLQSubject),
			Message:  decode(h, raw.Data),
			Error:    h.Get(HeaderDLQError),
		}
		d.Deliveries, _ = strconv.Atoi(h.Get(HeaderDLQDeliveries))
		if t, err := time.Parse(timeFormat, h.Get(HeaderDLQDeadAt)); err == nil {
			d.DeadAt = t.UTC()
		} else {
			d.DeadAt = raw.Time.UTC()
		}
		if !f(seq, d) {
			return nil
		}
	}
	return nil
}

// RemoveDeadLetter deletes the dead letter id: of two with that id (the moment
// a failed retry stored it again), the older.
func (b *Bus) RemoveDeadLetter(ctx context.Context, id string) error {
	var seq uint64
	if err := b.eachDeadLetter(ctx, func(s uint64, d es.DeadLetter) bool {
		if d.ID == id {
			seq = s
		}
		return seq == 0
	}); err != nil {
		return err
	}
	if seq == 0 {
		return es.ErrNotFound
	}
	st, err := b.js.Stream(ctx, b.opts.Prefix+DLQStream)
	if err != nil {
		return fmt.Errorf("natsbus: dlq: %w", err)
	}
	if err := st.DeleteMsg(ctx, seq); err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) || strings.Contains(err.Error(), "no message found") {
			return es.ErrNotFound
		}
		return fmt.Errorf("natsbus: remove dead letter %s: %w", id, err)
	}
	return nil
}
