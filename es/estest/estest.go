// Package estest is the conformance suite of es.Store: every store
// implementation (sqlite, postgres) runs RunStore and RunBenchmarks, so both
// backends behave the same for the contexts built on them.
//
// Each subtest gets a fresh, empty store from open, so subtests are
// independent and can be run alone (go test -run 'Store/NeverSkip').
package estest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"acme/es"
)

// Opener returns a fresh, empty, migrated store for one (sub)test and arranges
// for it to be closed at the end of the test (t.Cleanup). Close may be called
// twice: the suite closes some stores itself.
type Opener = func(t *testing.T) es.Store

// RunStore runs the es.Store conformance suite against stores made by open.
func RunStore(t *testing.T, open func(t *testing.T) es.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s es.Store)
	}{
		{"ExpectedVersion", testExpectedVersion},
		{"ConcurrentNoStream", testConcurrentNoStream},
		{"ConcurrentExactVersion", testConcurrentExactVersion},
		{"MultiStreamAtomic", testMultiStreamAtomic},
		{"SameStreamTwiceInOneCommit", testSameStreamTwice},
		{"EmptyAppendChecksVersion", testEmptyAppend},
		{"Inbox", testInbox},
		{"InboxBatch", testInboxBatch},
		{"Apply", testApply},
		{"ApplyErrorStoresNothing", testApplyError},
		{"Committed", testCommitted},
		{"GroupCommitIsolation", testGroupCommitIsolation},
		{"IdempotentAppend", testIdempotentAppend},
		{"EventIDConflict", testEventIDConflict},
		{"ReadStream", testReadStream},
		{"ReadStreamAsOf", testReadStreamAsOf},
		{"StreamVersion", testStreamVersion},
		{"ReadAllBatches", testReadAll},
		{"Wait", testWait},
		{"Snapshots", testSnapshots},
		{"Upcasting", testUpcasting},
		{"LargePayload", testLargePayload},
		{"Unicode", testUnicode},
		{"CancelledContext", testCancelled},
		{"Migrate", testMigrate},
		{"RecordedAt", testRecordedAt},
		{"Metadata", testMetadata},
		{"Closed", testClosed},
		{"AggregateCommandPath", testAggregate},
		{"NeverSkip", testNeverSkip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// NewID returns a UUIDv7 string.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Ev is an event to append: a new id, type, schema version 1 and data.
func Ev(typ, data string) es.Event {
	return es.Event{ID: NewID(), Type: typ, SchemaVersion: 1, Data: json.RawMessage(data)}
}

func app(stream string, expected int64, events ...es.Event) es.Append {
	return es.Append{StreamID: stream, StreamType: "thing", Expected: expected, Events: events}
}

func commit(t *testing.T, s es.Store, c es.Commit) es.Result {
	t.Helper()
	res, err := s.Commit(t.Context(), c)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

func appendOK(t *testing.T, s es.Store, stream string, expected int64, events ...es.Event) es.Result {
	t.Helper()
	return commit(t, s, es.Commit{Appends: []es.Append{app(stream, expected, events...)}})
}

func readStream(t *testing.T, s es.Store, stream string, q es.StreamQuery) []es.Event {
	t.Helper()
	evs, err := s.ReadStream(t.Context(), stream, q)
	if err != nil {
		t.Fatalf("ReadStream(%s, %+v): %v", stream, q, err)
	}
	return evs
}

func head(t *testing.T, s es.Store) int64 {
	t.Helper()
	h, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return h
}

func streamVersion(t *testing.T, s es.Store, stream string) int64 {
	t.Helper()
	v, err := s.StreamVersion(t.Context(), stream)
	if err != nil {
		t.Fatalf("StreamVersion(%s): %v", stream, err)
	}
	return v
}

func readAll(t *testing.T, s es.Store, after int64) []es.Event {
	t.Helper()
	var out []es.Event
	for {
		evs, err := s.ReadAll(t.Context(), after, 1000)
		if err != nil {
			t.Fatalf("ReadAll(%d): %v", after, err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Position
	}
}

// JSONEqual reports whether a and b are the same JSON value (PostgreSQL's
// jsonb does not keep the bytes, so stores compare values).
func JSONEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sameEvent fails t when got is not want as stored (every field).
func sameEvent(t *testing.T, what string, got, want es.Event) {
	t.Helper()
	var diffs []string
	add := func(f string, g, w any) { diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", f, g, w)) }
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	if got.StreamID != want.StreamID {
		add("StreamID", got.StreamID, want.StreamID)
	}
	if got.StreamType != want.StreamType {
		add("StreamType", got.StreamType, want.StreamType)
	}
	if got.Type != want.Type {
		add("Type", got.Type, want.Type)
	}
	if got.SchemaVersion != want.SchemaVersion {
		add("SchemaVersion", got.SchemaVersion, want.SchemaVersion)
	}
	if !JSONEqual(got.Data, want.Data) {
		add("Data", abbrev(got.Data), abbrev(want.Data))
	}
	if got.Metadata != want.Metadata {
		add("Metadata", got.Metadata, want.Metadata)
	}
	if got.Version != want.Version {
		add("Version", got.Version, want.Version)
	}
	if got.Position != want.Position {
		add("Position", got.Position, want.Position)
	}
	if !got.RecordedAt.Equal(want.RecordedAt) {
		add("RecordedAt", got.RecordedAt, want.RecordedAt)
	}
	if len(diffs) > 0 {
		t.Errorf("%s: event differs:\n%v", what, diffs)
	}
}

func sameEvents(t *testing.T, what string, got, want []es.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		sameEvent(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

func abbrev(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// unchanged fails t when the store's head or the streams' versions moved.
func unchanged(t *testing.T, s es.Store, what string, wantHead int64, versions map[string]int64) {
	t.Helper()
	if h := head(t, s); h != wantHead {
		t.Errorf("%s: head moved to %d, want %d (something was stored)", what, h, wantHead)
	}
	for stream, v := range versions {
		if got := streamVersion(t, s, stream); got != v {
			t.Errorf("%s: stream %s at version %d, want %d", what, stream, got, v)
		}
	}
}
