package httpapi

import (
	"bytes"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	same := [][2]string{
		{`{"a":1,"b":[true,null]}`, ` { "b" : [ true , null ], "a" : 1 } `},
		{`{"a":{"y":"x","x":"y"}}`, `{"a":{"x":"y","y":"x"}}`},
	}
	for _, p := range same {
		if a, b := canonicalJSON([]byte(p[0])), canonicalJSON([]byte(p[1])); !bytes.Equal(a, b) {
			t.Errorf("%s and %s differ: %s, %s", p[0], p[1], a, b)
		}
	}
	differ := [][2]string{
		{`{"a":1}`, `{"a":1.0}`},
		{`{"a":"1"}`, `{"a":1}`},
		{`{"a":1}`, `{"a":1} {"a":1}`},
		{`{"a":1}`, `{"a":1}}`},
		{`{"a":1}`, `{"a":1}]`},
		{`not json`, `not  json`},
	}
	for _, p := range differ {
		if a, b := canonicalJSON([]byte(p[0])), canonicalJSON([]byte(p[1])); bytes.Equal(a, b) {
			t.Errorf("%s and %s are the same: %s", p[0], p[1], a)
		}
	}
}
