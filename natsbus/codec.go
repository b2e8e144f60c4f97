package natsbus

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"acme/es"
)

// CloudEvents binary-mode headers (NATS protocol binding: attribute names with
// the "ce-" prefix) and Acme's extension headers. They are set directly rather
// than through cloudevents/sdk-go: its NATS JetStream binding owns the
// connection and publishes one event at a time (no Nats-Msg-Id dedup, no
// batched async publish), and the core SDK would only contribute these names.
const (
	HeaderID            = "ce-id"
	HeaderType          = "ce-type"
	HeaderSource        = "ce-source"
	HeaderSpecVersion   = "ce-specversion"
	HeaderTime          = "ce-time"
	HeaderSubject       = "ce-subject"
	HeaderContentType   = "content-type"
	HeaderCorrelationID = "acme-correlationid"
	HeaderCausationID   = "acme-causationid"
	HeaderActor         = "acme-actor"
	HeaderSchemaVersion = "acme-schemaversion"
	HeaderPosition      = "acme-position"
	HeaderTraceParent   = "traceparent"

	// Dead-letter headers (on ACME_DLQ messages, beside the original ones).
	HeaderDLQID         = "acme-dlq-id" // a dead letter stored again after a failed retry keeps its id
	HeaderDLQConsumer   = "acme-dlq-consumer"
	HeaderDLQSubject    = "acme-dlq-subject"
	HeaderDLQError      = "acme-dlq-error"
	HeaderDLQDeliveries = "acme-dlq-deliveries"
	HeaderDLQDeadAt     = "acme-dlq-deadat"
)

const timeFormat = time.RFC3339Nano

// encode builds the NATS message of m on subject.
func encode(subject string, m es.Message) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Data = m.Data
	h := msg.Header
	h.Set(HeaderSpecVersion, "1.0")
	h.Set(HeaderID, m.ID)
	h.Set(HeaderType, m.Type)
	h.Set(HeaderSource, m.Source)
	h.Set(HeaderContentType, "application/json")
	if !m.Time.IsZero() {
		h.Set(HeaderTime, m.Time.UTC().Format(timeFormat))
	}
	if m.Subject != "" {
		h.Set(HeaderSubject, m.Subject)
	}
	h.Set(HeaderSchemaVersion, strconv.Itoa(m.SchemaVersion))
	h.Set(HeaderPosition, strconv.FormatInt(m.Position, 10))
	setIf(h, HeaderCorrelationID, m.Metadata.CorrelationID)
	setIf(h, HeaderCausationID, m.Metadata.CausationID)
	setIf(h, HeaderActor, m.Metadata.Actor)
	setIf(h, HeaderTraceParent, m.Metadata.TraceParent)
	return msg
}

func setIf(h nats.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}

// decode reads the es.Message of a NATS message's headers and body.
func decode(h nats.Header, data []byte) es.Message {
	m := es.Message{
		ID:      h.Get(HeaderID),
		Type:    h.Get(HeaderType),
		Source:  h.Get(HeaderSource),
		Subject: h.Get(HeaderSubject),
		Data:    append([]byte(nil), data...),
		Metadata: es.Metadata{
			CorrelationID: h.Get(HeaderCorrelationID),
			CausationID:   h.Get(HeaderCausationID),
			Actor:         h.Get(HeaderActor),
			TraceParent:   h.Get(HeaderTraceParent),
		},
	}
	m.SchemaVersion, _ = strconv.Atoi(h.Get(HeaderSchemaVersion))
	m.Position, _ = strconv.ParseInt(h.Get(HeaderPosition), 10, 64)
	if t, err := time.Parse(timeFormat, h.Get(HeaderTime)); err == nil {
		m.Time = t.UTC()
	}
	return m
}
