// Package msgschema makes the message registry a document: the JSON Schema of
// every registered message generated from its Go type (invopop/jsonschema),
// validation of incoming message data against it
// (santhosh-tekuri/jsonschema), GET /api/v1/catalog, and the export of the
// catalog as an EventCatalog-style directory and an AsyncAPI document.
package msgschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"

	"acme/es"
	"acme/httpapi"
)

// Schema returns the JSON Schema (draft 2020-12) of t's payload, generated from
// its Go type. Fields without omitempty are required; additional properties are
// allowed (adding fields is never a breaking change).
func Schema(t es.MessageType) map[string]any {
	r := &jsonschema.Reflector{Anonymous: true, AllowAdditionalProperties: true, ExpandedStruct: true, Namer: httpapi.SchemaName}
	s := r.ReflectFromType(t.GoType())
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("msgschema: %s: %v", t.Spec().Name, err))
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("msgschema: %s: %v", t.Spec().Name, err))
	}
	spec := t.Spec()
	m["$id"] = "https://acme.example/schemas/" + spec.Name + "/" + spec.Version + ".json"
	m["title"] = spec.Name
	if spec.Summary != "" {
		m["description"] = spec.Summary
	}
	return m
}

// Validator validates message data against the schemas of a registry; the
// compiled schemas are cached. Safe for concurrent use.
type Validator struct {
	reg  *es.Registry
	mu   sync.Mutex
	sch  map[string]*sjs.Schema
	seen seenMessages // messages that passed ValidateMessage
}

// NewValidator returns a validator of reg's messages.
func NewValidator(reg *es.Registry) *Validator {
	return &Validator{reg: reg, sch: map[string]*sjs.Schema{}, seen: seenMessages{byID: map[string]seenMessage{}, ring: make([]string, seenSize)}}
}

// ValidateMessage is Validate for a message delivered by the bus, done once
// per message and process: the consumers of an event in one process (four or
// five for some) get the same id with the same bytes, and the first one's
// validation stands for the others. A message is taken as seen only with
// the same type and the very same data.
func (v *Validator) ValidateMessage(id, name string, data []byte) error {
	if id != "" && v.seen.has(id, name, data) {
		return nil
	}
	if err := v.Validate(name, data); err != nil {
		return err
	}
	if id != "" {
		v.seen.add(id, name, data)
	}
	return nil
}

// seenSize bounds the remembered messages: enough for the consumers of one
// message to find it while its deliveries are in flight.
const seenSize = 8192

type seenMessage struct {
	name string
	data []byte
}

// seenMessages is a bounded map of validated messages (oldest out first).
type seenMessages struct {
	mu   sync.Mutex
	byID map[string]seenMessage
	ring []string
	next int
}

func (s *seenMessages) has(id, name string, data []byte) bool {
	s.mu.Lock()
	m, ok := s.byID[id]
	s.mu.Unlock()
	return ok && m.name == name && bytes.Equal(m.data, data)
}

func (s *seenMessages) add(id, name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; ok {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.byID, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.byID[id] = seenMessage{name: name, data: bytes.Clone(data)}
}

// ValidationError says why message data does not match its schema.
type ValidationError struct {
	Message string
	Err     error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("msgschema: %s does not match its schema: %v", e.Message, e.Err)
}
func (e *ValidationError) Unwrap() error { return e.Err }

// Validate checks data (the JSON payload of a message of type t, current
// schema version) against t's schema. A mismatch is a *ValidationError.
func Validate(t es.MessageType, data []byte) error {
	s, err := compile(t)
	if err != nil {
		return err
	}
	return validate(t, s, data)
}

// Validate checks data of the message named name (or an alias).
func (v *Validator) Validate(name string, data []byte) error {
	t, ok := v.reg.Lookup(name)
	if !ok {
		return fmt.Errorf("msgschema: unknown message %q", name)
	}
	v.mu.Lock()
	s, ok := v.sch[t.Spec().Name]
	v.mu.Unlock()
	if !ok {
		var err error
		if s, err = compile(t); err != nil {
			return err
		}
		v.mu.Lock()
		v.sch[t.Spec().Name] = s
		v.mu.Unlock()
	}
	return validate(t, s, data)
}

func compile(t es.MessageType) (*sjs.Schema, error) {
	doc := Schema(t)
	b, _ := json.Marshal(doc)
	parsed, err := sjs.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := sjs.NewCompiler()
	id := doc["$id"].(string)
	if err := c.AddResource(id, parsed); err != nil {
		return nil, fmt.Errorf("msgschema: %s: %w", t.Spec().Name, err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("msgschema: compile %s: %w", t.Spec().Name, err)
	}
	return s, nil
}

func validate(t es.MessageType, s *sjs.Schema, data []byte) error {
	inst, err := sjs.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &ValidationError{Message: t.Spec().Name, Err: fmt.Errorf("not JSON: %w", err)}
	}
	if err := s.Validate(inst); err != nil {
		return &ValidationError{Message: t.Spec().Name, Err: err}
	}
	return nil
}

// Entry is one message of GET /api/v1/catalog.
type Entry struct {
	Name      string         `json:"name"`
	Kind      es.Kind        `json:"kind"`
	Version   string         `json:"version"`
	Owner     string         `json:"owner"`
	Producers []string       `json:"producers"`
	Consumers []string       `json:"consumers"`
	Summary   string         `json:"summary"`
	Aliases   []string       `json:"aliases,omitempty"`
	Internal  bool           `json:"internal,omitempty"` // kept in the owner's log, never published
	Schema    map[string]any `json:"schema"`
}

// Catalog is the body of GET /api/v1/catalog.
type Catalog struct {
	Items []Entry `json:"items"`
}

// Entries returns every registered message, sorted by owner then name.
func Entries(reg *es.Registry) []Entry {
	out := []Entry{}
	for _, t := range reg.All() {
		s := t.Spec()
		out = append(out, Entry{Name: s.Name, Kind: s.Kind, Version: s.Version, Owner: s.Owner,
			Producers: nonNil(s.Producers), Consumers: nonNil(s.Consumers), Summary: s.Summary,
			Aliases: s.Aliases, Internal: s.Internal, Schema: Schema(t)})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Routes registers GET /api/v1/catalog (anyone).
func Routes(api *httpapi.API, reg *es.Registry) {
	var (
		once sync.Once
		body Catalog
	)
	api.Handle("GET /api/v1/catalog", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		once.Do(func() { body = Catalog{Items: Entries(reg)} })
		return httpapi.JSON(w, http.StatusOK, body)
	}, httpapi.Summary("Every message (command, event, query) the platform handles, with owner, producers, consumers and its JSON Schema; sorted by owner, then name."),
		httpapi.Returns(http.StatusOK, Catalog{}))
}
