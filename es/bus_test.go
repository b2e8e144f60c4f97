package es

import "testing"

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
