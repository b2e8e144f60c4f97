package natsbus_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"acme/es"
	"acme/natsbus"
	"acme/natsbus/bustest"
	"acme/testenv"
)

func TestEmbedded(t *testing.T) {
	bustest.Run(t, func(t *testing.T) es.Bus {
		b, err := natsbus.Embedded(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

func TestExternal(t *testing.T) {
	url := testenv.NATSURL(t)
	run := fmt.Sprintf("T%d_%d_", os.Getpid(), time.Now().UnixNano()%1_000_000)
	n := 0
	bustest.Run(t, func(t *testing.T) es.Bus {
		n++
		opts := natsbus.Options{Prefix: fmt.Sprintf("%s%d_", run, n)}
		b, err := natsbus.Connect(context.Background(), url, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = b.Close()
			// Remove this test's streams from the shared server (a new
			// connection: the test may have closed its bus).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if c, err := natsbus.Connect(ctx, url, opts); err == nil {
				if err := c.Destroy(ctx); err != nil {
					t.Logf("clean-up: %v", err)
				}
				_ = c.Close()
			}
		})
		return b
	})
}
