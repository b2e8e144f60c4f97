package msgschema_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/msgschema"
)

type itemAdded struct {
	CartID   string     `json:"cartId"`
	Quantity int        `json:"quantity"`
	Price    acme.Money `json:"price"`
	Note     string     `json:"note,omitempty"`
	At       time.Time  `json:"at"`
}

type addItem struct {
	CartID string `json:"cartId"`
}

var (
	evt = es.Define[itemAdded](es.MessageSpec{Name: "ItemAdded", Kind: es.KindEvent, Owner: "cart",
		Producers: []string{"cart"}, Consumers: []string{"search"}, Summary: "An item was added."})
	cmd = es.Define[addItem](es.MessageSpec{Name: "AddItem", Kind: es.KindCommand, Owner: "cart", Summary: "Add an item."})
	own = es.Define[cartNoted](es.MessageSpec{Name: "CartNoted", Kind: es.KindEvent, Owner: "cart", Summary: "Bookkeeping.", Internal: true})
)

type cartNoted struct {
	CartID string `json:"cartId"`
}

func TestValidate(t *testing.T) {
	reg, err := es.NewRegistry(evt, cmd)
	if err != nil {
		t.Fatal(err)
	}
	v := msgschema.NewValidator(reg)
	good := `{"cartId":"c1","quantity":2,"price":{"amount":100,"currency":"USD"},"at":"2026-01-02T03:04:05Z","extra":"fine"}`
	for _, check := range []func(string) error{
		func(s string) error { return v.Validate("ItemAdded", []byte(s)) },
		func(s string) error { return msgschema.Validate(evt, []byte(s)) },
	} {
		if err := check(good); err != nil {
			t.Fatalf("valid data rejected: %v", err)
		}
		for name, bad := range map[string]string{
			"wrong type":    `{"cartId":"c1","quantity":"two","price":{"amount":100,"currency":"USD"},"at":"2026-01-02T03:04:05Z"}`,
			"missing field": `{"cartId":"c1","price":{"amount":100,"currency":"USD"},"at":"2026-01-02T03:04:05Z"}`,
			"nested wrong":  `{"cartId":"c1","quantity":1,"price":{"amount":1.5,"currency":"USD"},"at":"2026-01-02T03:04:05Z"}`,
			"not an object": `[1,2]`,
			"not even JSON": `{`,
		} {
			err := check(bad)
			var ve *msgschema.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("%s: got %v, want a ValidationError", name, err)
			}
		}
	}
	if err := v.Validate("Nope", []byte(`{}`)); err == nil {
		t.Fatal("unknown message validated")
	}
}

func TestEntriesAndExport(t *testing.T) {
	reg, _ := es.NewRegistry(evt, cmd, own)
	entries := msgschema.Entries(reg)
	if len(entries) != 3 || entries[0].Name != "AddItem" || entries[2].Kind != es.KindEvent {
		t.Fatalf("entries %+v", entries)
	}
	if !entries[1].Internal || entries[2].Internal {
		t.Fatalf("internal flags: %s %v, %s %v", entries[1].Name, entries[1].Internal, entries[2].Name, entries[2].Internal)
	}
	props, _ := entries[2].Schema["properties"].(map[string]any)
	if _, ok := props["quantity"]; !ok {
		t.Fatalf("schema lacks properties.quantity: %v", entries[2].Schema)
	}
	dir := t.TempDir()
	if err := msgschema.Export(dir, reg, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"events/ItemAdded/index.md", "events/ItemAdded/schema.json", "commands/AddItem/index.md",
		"services/cart/index.md", "services/search/index.md", "domains/acme/index.md", "asyncapi.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("export lacks %s", f)
		}
	}
	var doc struct {
		AsyncAPI string                     `json:"asyncapi"`
		Channels map[string]json.RawMessage `json:"channels"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "asyncapi.json"))
	if err := json.Unmarshal(b, &doc); err != nil || doc.AsyncAPI != "3.0.0" {
		t.Fatalf("asyncapi: %v %q", err, doc.AsyncAPI)
	}
	if _, ok := doc.Channels["acme_evt_cart_ItemAdded"]; !ok {
		t.Fatalf("no channel for ItemAdded: %s", b)
	}
	if _, ok := doc.Channels["acme_evt_cart_CartNoted"]; ok {
		t.Fatalf("a channel for the internal CartNoted: %s", b)
	}
}

// A message validated once is not validated again under the same id, type
// and bytes; other bytes under that id are validated again.
func TestValidateMessageOnce(t *testing.T) {
	reg, err := es.NewRegistry(evt, cmd)
	if err != nil {
		t.Fatal(err)
	}
	v := msgschema.NewValidator(reg)
	good := []byte(`{"cartId":"c1","quantity":2,"price":{"amount":100,"currency":"USD"},"at":"2026-01-02T03:04:05Z"}`)
	bad := []byte(`{"cartId":"c1","quantity":"two","price":{"amount":100,"currency":"USD"},"at":"2026-01-02T03:04:05Z"}`)
	for range 3 {
		if err := v.ValidateMessage("m1", "ItemAdded", good); err != nil {
			t.Fatalf("valid message rejected: %v", err)
		}
	}
	if err := v.ValidateMessage("m1", "ItemAdded", bad); err == nil {
		t.Fatal("other bytes under a validated id were taken as validated")
	}
	for range 2 {
		if err := v.ValidateMessage("m2", "ItemAdded", bad); err == nil {
			t.Fatal("an invalid message passed")
		}
	}
	cartOnly := []byte(`{"cartId":"c1"}`) // an AddItem, not an ItemAdded
	if err := v.ValidateMessage("m3", "AddItem", cartOnly); err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateMessage("m3", "ItemAdded", cartOnly); err == nil {
		t.Fatal("a validated id under another type was taken as validated")
	}
	// Past the bound the oldest are forgotten (and validated again).
	for i := range 10000 {
		if err := v.ValidateMessage(fmt.Sprint("n", i), "ItemAdded", good); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkValidateMessage: the first validation of a message (baseline)
// against the later ones of its other consumers in the same process.
func BenchmarkValidateMessage(b *testing.B) {
	reg, err := es.NewRegistry(evt, cmd)
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"cartId":"c1","quantity":2,"price":{"amount":100,"currency":"USD"},"at":"2026-01-02T03:04:05Z"}`)
	b.Run("first", func(b *testing.B) {
		v := msgschema.NewValidator(reg)
		for i := range b.N {
			if err := v.ValidateMessage(fmt.Sprint("m", i), "ItemAdded", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		v := msgschema.NewValidator(reg)
		if err := v.ValidateMessage("m", "ItemAdded", data); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			if err := v.ValidateMessage("m", "ItemAdded", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
