package httpapi

import (
	"encoding/json"

	"github.com/invopop/jsonschema"
)

// OptionalID is an id a view may lack, such as the variant of a product
// without variants: "" is written as JSON null (the stores and events keep "").
type OptionalID string

// MarshalJSON writes "" as null.
func (id OptionalID) MarshalJSON() ([]byte, error) {
	if id == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(id))
}

// UnmarshalJSON reads null as "".
func (id *OptionalID) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*id = ""
	if s != nil {
		*id = OptionalID(*s)
	}
	return nil
}

// JSONSchema documents it in the OpenAPI as a UUID or null.
func (OptionalID) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "string", Format: "uuid"}, {Type: "null"}}}
}
