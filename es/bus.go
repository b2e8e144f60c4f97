package es

import (
	"context"
	"encoding/json"
	"time"
)

// Message is an event or command on the bus: a CloudEvent in binary mode
// (ce-id = ID, ce-type = Type, ce-source = Source, ce-time = Time, plus
// correlation/causation headers). It is built from a stored Event by the relay.
type Message struct {
	ID            string // the stored event's id: the JetStream message id (dedup)
	Type          string // registered message name
	SchemaVersion int
	Source        string // the producing context, e.g. "catalog"
	Subject       string // the stream id the event belongs to, e.g. "product-0190..."
	Time          time.Time
	Data          json.RawMessage
	Metadata      Metadata
	Position      int64 // the event's position in the producing context's log
}

// FromEvent builds the bus message of a stored event of context source.
func FromEvent(source string, e Event) Message {
	return Message{ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, Source: source,
		Subject: e.StreamID, Time: e.RecordedAt, Data: e.Data, Metadata: e.Metadata, Position: e.Position}
}

// Handler applies one message for a consumer. It returns the Commit to store in
// the consumer's context store atomically with the inbox record (a zero Commit
// when there is nothing to store). It must not have other side effects that are
// not idempotent. When the commit fails with ErrConcurrency the handler is called
// again with the same message (it reloads); ErrDuplicate means the message was
// applied before and is acknowledged. Any other error is retried with backoff and
// dead-lettered after a bounded number of deliveries. Return Permanent(err) for an
// error no retry can fix (dead-letter at once).
type Handler func(ctx context.Context, m Message) (Commit, error)

// permanent marks an error no retry can fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent wraps err so the consumer dead-letters the message without retrying.
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	for err != nil {
		if _, ok := err.(permanent); ok {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
