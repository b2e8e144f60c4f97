package es

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestDecodeData(t *testing.T) {
	var v struct {
		ProductID string `json:"productId"`
	}
	if err := DecodeData(Message{Type: "ProductCreated", Data: []byte(`{"productId":"p1","unknown":1}`)}, &v); err != nil || v.ProductID != "p1" {
		t.Fatalf("tolerant decode = %+v, %v", v, err)
	}
	err := DecodeData(Message{Type: "ProductCreated", ID: "m1", Data: []byte(`{"productId":`)}, &v)
	if err == nil || !IsPermanent(err) {
		t.Fatalf("undecodable data gave %v; want a permanent error", err)
	}
}

// Join keeps the commits' appends and runs their Applies in order, stopping
// at the first error; Apply-free commits join into an Apply-free one.
func TestJoin(t *testing.T) {
	var ran []int
	apply := func(i int, err error) func(context.Context, SQL, []Event) error {
		return func(context.Context, SQL, []Event) error { ran = append(ran, i); return err }
	}
	boom := errors.New("boom")
	j := Join(Commit{Appends: []Append{{StreamID: "a"}}, Apply: apply(1, nil)},
		Commit{Appends: []Append{{StreamID: "b"}}},
		Commit{Apply: apply(2, boom)}, Commit{Apply: apply(3, nil)})
	if len(j.Appends) != 2 || j.Appends[0].StreamID != "a" || j.Appends[1].StreamID != "b" {
		t.Fatalf("appends %+v", j.Appends)
	}
	if err := j.Apply(context.Background(), nil, nil); !errors.Is(err, boom) || !slices.Equal(ran, []int{1, 2}) {
		t.Fatalf("Apply: %v, ran %v; want boom after 1, 2", err, ran)
	}
	if Join(Commit{}, Commit{Appends: []Append{{StreamID: "a"}}}).Apply != nil {
		t.Fatal("Apply-free commits joined into one with an Apply")
	}
}
