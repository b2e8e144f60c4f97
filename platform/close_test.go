package platform

import (
	"context"
	"fmt"
	"testing"
	"time"

	"acme/es"
)

// Close is prompt however many consumers are idle in a pull.
func TestCloseIsPrompt(t *testing.T) {
	dir := t.TempDir()
	bus := embeddedBus(t)
	p := newPlatform(t, bus, nil)
	h := p.Host("beta", openStore(t, dir, "beta"))
	for i := range 10 {
		h.Consume(fmt.Sprintf("c%d", i), []string{"ThingHappened"}, func(context.Context, es.Message) (es.Commit, error) { return es.Commit{}, nil })
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Fatalf("Close took %s with 10 idle consumers", el)
	}
}
