package httpapi

import (
	"encoding/json"
	"testing"
)

func TestOptionalID(t *testing.T) {
	var v struct {
		A OptionalID `json:"a"`
		B OptionalID `json:"b"`
	}
	v.B = "0190a000-0000-7000-8000-000000000001"
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"a":null,"b":"0190a000-0000-7000-8000-000000000001"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	v.A = "x"
	if err := json.Unmarshal([]byte(`{"a":null,"b":"y"}`), &v); err != nil || v.A != "" || v.B != "y" {
		t.Fatalf("unmarshal = %+v, %v", v, err)
	}
	if err := json.Unmarshal([]byte(`{"a":5}`), &v); err == nil {
		t.Fatal("a number was read as an id")
	}
}
