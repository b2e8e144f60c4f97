package es

import (
	"context"
	"encoding/json"
	"fmt"
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

// BatchHandler applies several messages of a consumer at once (see
// Host.ConsumeBatch): ms in delivery order, so one source stream's messages
// keep their order. It returns one Commit for all of them, stored with every
// message's inbox id. It follows Handler's rules; an error, or a commit that
// fails other than with ErrConcurrency, makes the platform apply the batch's
// messages one at a time (each its own call with a one-message batch), so a
// duplicate or a poison message is settled alone. ctx carries the metadata of
// the batch's last message; HandlerMetadata gives each message's own.
type BatchHandler func(ctx context.Context, ms []Message) (Commit, error)

// HandlerMetadata is the metadata of the events a consumer emits in reaction
// to m: m's correlation id (m's own id when it has none), m's id as
// causation, m's actor and trace.
func HandlerMetadata(m Message) Metadata {
	corr := m.Metadata.CorrelationID
	if corr == "" {
		corr = m.ID
	}
	return Metadata{CorrelationID: corr, CausationID: m.ID, Actor: m.Metadata.Actor, TraceParent: m.Metadata.TraceParent}
}

// HandlerContext is ctx carrying HandlerMetadata(m).
func HandlerContext(ctx context.Context, m Message) context.Context {
	return WithMetadata(ctx, HandlerMetadata(m))
}

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

// Subject prefixes of the bus. Events of context owner publish on
// "acme.evt.<owner>.<Name>" (any number of consumers); commands go to the work
// queue "acme.cmd.<owner>.<Name>" (one handler group). See docs/bus.md.
const (
	EventSubjectPrefix   = "acme.evt."
	CommandSubjectPrefix = "acme.cmd."
)

// SubjectOf returns the bus subject of a message of spec: acme.cmd.<owner>.<Name>
// for a command, acme.evt.<owner>.<Name> otherwise.
func SubjectOf(spec MessageSpec) string {
	if spec.Kind == KindCommand {
		return CommandSubjectPrefix + spec.Owner + "." + spec.Name
	}
	return EventSubjectPrefix + spec.Owner + "." + spec.Name
}

// Envelope is a message addressed to a bus subject.
type Envelope struct {
	Subject string // acme.evt.<owner>.<Name> or acme.cmd.<owner>.<Name>
	Message Message
}

// Bus is the message bus port (implementation: natsbus, NATS JetStream). The
// relay publishes the stores' logs to it; the consumer runtime reads durable
// consumers from it. Every method returns ctx.Err() (wrapped) when ctx is done
// first, and ErrClosed after Close.
type Bus interface {
	// Publish stores every envelope on the bus and returns once the server has
	// acknowledged all of them (they are durable). Message.ID is the
	// deduplication id: an envelope re-published with an ID the bus has stored
	// within its duplicate window is acknowledged without being stored again.
	// On error some envelopes may be stored: re-publish all of them (dedup makes
	// that safe).
	Publish(ctx context.Context, msgs ...Envelope) error

	// Subscribe creates (or updates) the durable consumer spec.Name over
	// spec.Subjects and returns a handle to pull from it. Processes that
	// subscribe with the same name share the messages (each is delivered to one
	// of them at a time). Messages published before the consumer was first
	// created are delivered too (events: from the start of the retained stream).
	// Errors: an invalid spec, or a filter that overlaps another consumer of a
	// command subject (one handler group per command).
	Subscribe(ctx context.Context, spec ConsumerSpec) (Subscription, error)

	// DeadLetter stores d in the dead-letter stream (ID and DeadAt are set by
	// the bus when empty/zero).
	DeadLetter(ctx context.Context, d DeadLetter) error
	// DeadLetters returns the stored dead letters, oldest first (at most limit;
	// limit <= 0 means all).
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// RemoveDeadLetter deletes a dead letter (after a successful retry).
	// ErrNotFound when there is none with id.
	RemoveDeadLetter(ctx context.Context, id string) error

	// Lease acquires or renews the named lease for holder, valid for ttl after
	// the call. It returns false (and no error) while another holder has it.
	// A holder that stops renewing loses it after ttl.
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up the lease if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error

	Close() error
}

// ConsumerSpec describes a durable consumer.
type ConsumerSpec struct {
	// Name is the durable name, unique across the platform: "<context>_<name>"
	// (letters, digits, '_' and '-').
	Name string
	// Subjects are the exact subjects (acme.evt.* and/or acme.cmd.*) it reads.
	Subjects []string
	// AckWait is how long a delivery may stay unacknowledged before it is
	// redelivered (default 30 s). Delivery.InProgress extends it.
	AckWait time.Duration
	// Batch: the consumer gathers what is ready with TryNext and applies it
	// at once, so the subscription keeps several pulls' worth of deliveries
	// ready. Otherwise it holds no more than one pull, so that deliveries of
	// a slow one-at-a-time consumer do not wait out their ack wait in a buffer.
	Batch bool
}

// Subscription is a durable consumer's pull handle.
type Subscription interface {
	// Next blocks until a delivery is available or ctx is done. Deliveries of
	// one subscription arrive in the bus's order except for redeliveries.
	// Several goroutines may call Next concurrently.
	Next(ctx context.Context) (Delivery, error)
	// TryNext returns a delivery that is ready now, without waiting (false
	// when there is none or the subscription is closed). Batch consumers use
	// it to gather what is pending after a Next.
	TryNext() (Delivery, bool)
	// Pending returns the number of messages of the consumer not yet
	// acknowledged (undelivered plus delivered-but-unacknowledged). It is for
	// display (lag): right after a publish it may not count it yet.
	Pending(ctx context.Context) (int64, error)
	// Watermark returns a mark covering every message stored on the consumer's
	// subjects before the call (every Publish that had returned).
	Watermark(ctx context.Context) (Watermark, error)
	// Reached reports whether every message covered by w has been
	// acknowledged or terminated by the consumer. Messages published after w
	// do not matter, so a busy consumer reaches a mark all the same.
	// Consistency waits (Acme-Min-Position) rely on it.
	Reached(ctx context.Context, w Watermark) (bool, error)
	// Close stops pulling; unacknowledged deliveries are redelivered later.
	// The durable consumer stays on the bus.
	Close() error
}

// Watermark is a position in a consumer's input, opaque outside its Bus
// implementation (natsbus: the last stream sequence of each filter subject).
type Watermark []uint64

// Delivery is one delivery of a message to a consumer. Exactly one of Ack, Nak
// or Term should be called.
type Delivery interface {
	Message() Message
	Subject() string
	// NumDelivered is 1 on the first delivery, 2 on the first redelivery, ...
	NumDelivered() int
	// Ack acknowledges the message and waits for the server's confirmation.
	Ack(ctx context.Context) error
	// Nak asks for redelivery after delay.
	Nak(delay time.Duration) error
	// Term stops redelivery of this message (it was dead-lettered).
	Term() error
	// InProgress resets the redelivery timer of a slow handler.
	InProgress() error
}

// DeadLetter is a message a consumer gave up on.
type DeadLetter struct {
	ID         string // bus-assigned; given to DeadLetter again (a failed retry), kept
	Consumer   string // "<context>.<name>"
	Subject    string // the subject it was delivered on
	Message    Message
	Error      string
	Deliveries int
	DeadAt     time.Time
}

// DecodeData decodes another context's message into the consumer's own view of
// it (a tolerant reader: unknown fields are ignored). Data that does not decode
// never will: the error is Permanent, so the message is dead-lettered at once.
func DecodeData(m Message, v any) error {
	if err := json.Unmarshal(m.Data, v); err != nil {
		return Permanent(fmt.Errorf("decode %s %s: %w", m.Type, m.ID, err))
	}
	return nil
}
