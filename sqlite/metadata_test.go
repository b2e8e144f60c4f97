package sqlite

import (
	"encoding/json"
	"testing"

	"acme/es"
)

// FuzzDecodeMetadata: the fast path agrees with encoding/json whenever it
// answers, and answers for everything the store writes.
func FuzzDecodeMetadata(f *testing.F) {
	for _, s := range []string{`{}`, `{"actor":"a"}`, `{"correlationId":"c","causationId":"d","actor":"x y","traceparent":"00-ab-cd-01"}`,
		`{"actor":"a\"b"}`, `{"other":"x"}`, `{"actor": "spaced"}`, `{"actor":1}`, `{"actor":"é🛒"}`, `{"actor":"a",}`, `{"actor":"a"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var fast es.Metadata
		if decodeMetadata(s, &fast) {
			var slow es.Metadata
			if err := json.Unmarshal([]byte(s), &slow); err != nil || slow != fast {
				t.Fatalf("%q: fast %+v, encoding/json %+v (%v)", s, fast, slow, err)
			}
		}
		var md es.Metadata
		if json.Unmarshal([]byte(s), &md) == nil {
			enc, err := encodeMetadata(md)
			if err != nil {
				t.Fatal(err)
			}
			var back es.Metadata
			if enc != "{}" && !decodeMetadata(enc, &back) {
				if json.Unmarshal([]byte(enc), &back); back != md {
					t.Fatalf("%q does not round-trip", enc)
				}
			} else if back != md && enc != "{}" {
				t.Fatalf("%q: fast path read %+v, want %+v", enc, back, md)
			}
		}
	})
}
