package es

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Kind says what a message is for.
type Kind string

const (
	KindCommand Kind = "command" // asks one handler (the owner) to do something
	KindEvent   Kind = "event"   // announces a fact; any number of consumers
	KindQuery   Kind = "query"   // asks for information; changes nothing
)

// Upcaster turns the data of one schema version into the next (from -> from+1).
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// MessageSpec describes one message once: the contract other contexts rely on.
type MessageSpec struct {
	Name      string   // as in the catalog: "CartCheckedOut"; stored and published; never derived from Go names
	Kind      Kind     // command, event or query
	Version   string   // semantic version, "1.0.0"; its major is the stored SchemaVersion
	Owner     string   // owning context (Go package name): "cart"
	Producers []string // contexts that send/publish it
	Consumers []string // contexts that handle/consume it
	Summary   string   // one line
	Aliases   []string // other names the seeds use for the same fact (OrderPlaced for OrderCreated)
	// Internal: an event the owner keeps in its own log and never publishes
	// (a saga's bookkeeping of its steps). No other context may consume it.
	Internal bool
	// Upcasters[v] turns schema version v into v+1; data stored at an older major
	// version is upcast on read to the current one.
	Upcasters map[int]Upcaster
}

// SchemaVersion is the major version of Version.
func (s MessageSpec) SchemaVersion() int {
	major, _, _ := strings.Cut(s.Version, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// MessageType is a declared message: its spec and Go type.
type MessageType interface {
	Spec() MessageSpec
	GoType() reflect.Type
	decode(data json.RawMessage) (any, error)
}

// Msg is a message declared with its Go payload type T. Declare each message once,
// as a package-level variable of its owning context:
//
//	var CartCheckedOut = es.Define[CartCheckedOutV1](es.MessageSpec{Name: "CartCheckedOut", ...})
type Msg[T any] struct{ spec MessageSpec }

// Define declares a message with payload type T.
func Define[T any](spec MessageSpec) *Msg[T] {
	if spec.Name == "" || spec.Kind == "" || spec.Owner == "" {
		panic("es.Define: name, kind and owner are required")
	}
	if spec.Version == "" {
		spec.Version = "1.0.0"
	}
	return &Msg[T]{spec: spec}
}

// Spec returns the message's spec.
func (m *Msg[T]) Spec() MessageSpec { return m.spec }

// Name returns the message's registered name.
func (m *Msg[T]) Name() string { return m.spec.Name }

// GoType returns T.
func (m *Msg[T]) GoType() reflect.Type { return reflect.TypeFor[T]() }

// New encodes data as an Event (for Append) with the given id and metadata.
func (m *Msg[T]) New(id string, data T, md Metadata) Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("es: encode %s: %v", m.spec.Name, err)) // payload types are plain structs
	}
	return Event{ID: id, Type: m.spec.Name, SchemaVersion: m.spec.SchemaVersion(), Data: b, Metadata: md}
}

// Decode returns the payload of e (which must be of this type), upcast to the
// current schema version.
func (m *Msg[T]) Decode(e Event) (T, error) {
	var v T
	if e.Type != m.spec.Name {
		return v, fmt.Errorf("es: decode %s: event is %s", m.spec.Name, e.Type)
	}
	data, err := upcast(m.spec, e.SchemaVersion, e.Data)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("es: decode %s: %w", m.spec.Name, err)
	}
	return v, nil
}

// DecodeMessage is Decode for a bus message.
func (m *Msg[T]) DecodeMessage(msg Message) (T, error) {
	return m.Decode(Event{Type: msg.Type, SchemaVersion: msg.SchemaVersion, Data: msg.Data})
}

func (m *Msg[T]) decode(data json.RawMessage) (any, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}

func upcast(spec MessageSpec, from int, data json.RawMessage) (json.RawMessage, error) {
	if from == 0 {
		from = 1
	}
	to := spec.SchemaVersion()
	for v := from; v < to; v++ {
		up, ok := spec.Upcasters[v]
		if !ok {
			return nil, fmt.Errorf("es: no upcaster for %s v%d -> v%d", spec.Name, v, v+1)
		}
		var err error
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("es: upcast %s v%d: %w", spec.Name, v, err)
		}
	}
	return data, nil
}

// Registry holds every message the process handles. It is built once at start
// from the contexts' Messages() lists; it is the only way messages are encoded
// and decoded.
type Registry struct {
	byName map[string]MessageType
	byType map[reflect.Type]MessageType
}

// NewRegistry builds a registry; a name or Go type declared twice is an error.
func NewRegistry(types ...MessageType) (*Registry, error) {
	r := &Registry{byName: map[string]MessageType{}, byType: map[reflect.Type]MessageType{}}
	return r, r.Add(types...)
}

// Add declares more messages.
func (r *Registry) Add(types ...MessageType) error {
	for _, t := range types {
		s := t.Spec()
		if _, dup := r.byName[s.Name]; dup {
			return fmt.Errorf("es: message %q declared twice", s.Name)
		}
		if _, dup := r.byType[t.GoType()]; dup {
			return fmt.Errorf("es: Go type %v declared for two messages", t.GoType())
		}
		r.byName[s.Name] = t
		r.byType[t.GoType()] = t
	}
	return nil
}

// Lookup returns the message type named name (or one of its aliases).
func (r *Registry) Lookup(name string) (MessageType, bool) {
	if t, ok := r.byName[name]; ok {
		return t, true
	}
	for _, t := range r.byName {
		for _, a := range t.Spec().Aliases {
			if a == name {
				return t, true
			}
		}
	}
	return nil, false
}

// All returns every declared message, sorted by owner then name.
func (r *Registry) All() []MessageType {
	out := make([]MessageType, 0, len(r.byName))
	for _, t := range r.byName {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Spec(), out[j].Spec()
		if a.Owner != b.Owner {
			return a.Owner < b.Owner
		}
		return a.Name < b.Name
	})
	return out
}

// Encode turns a payload value of a declared Go type into an Event.
func (r *Registry) Encode(id string, v any, md Metadata) (Event, error) {
	t, ok := r.byType[reflect.TypeOf(v)]
	if !ok {
		return Event{}, fmt.Errorf("es: %T is not a declared message", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Event{}, fmt.Errorf("es: encode %s: %w", t.Spec().Name, err)
	}
	return Event{ID: id, Type: t.Spec().Name, SchemaVersion: t.Spec().SchemaVersion(), Data: b, Metadata: md}, nil
}

// Decode returns e's payload as the declared Go value (not a pointer), upcast to
// the current schema version.
func (r *Registry) Decode(e Event) (any, error) {
	t, ok := r.byName[e.Type]
	if !ok {
		return nil, fmt.Errorf("es: unknown message type %q", e.Type)
	}
	data, err := upcast(t.Spec(), e.SchemaVersion, e.Data)
	if err != nil {
		return nil, err
	}
	v, err := t.decode(data)
	if err != nil {
		return nil, fmt.Errorf("es: decode %s: %w", e.Type, err)
	}
	return v, nil
}
