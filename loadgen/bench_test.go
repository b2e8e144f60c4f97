package loadgen_test

import (
	"bytes"
	"context"
	"flag"
	"testing"
	"time"

	"acme/acmetest"
	"acme/loadgen"
)

var (
	benchCustomers = flag.Int("loadgen.customers", 20, "TestProfileRun: customers")
	benchDuration  = flag.Duration("loadgen.duration", 10*time.Second, "TestProfileRun: duration")
	benchRate      = flag.Float64("loadgen.rate", 0, "TestProfileRun: checkouts/s (0: as fast as possible)")
	benchProducts  = flag.Int("loadgen.products", 50, "TestProfileRun: products")
)

// TestProfileRun runs the load generator against an in-process embedded
// server, for profiles of the whole program under load:
//
//	LOADGEN_PROFILE=1 go test -run TestProfileRun -cpuprofile cpu.out ./loadgen -loadgen.customers 50
//
// (the profile includes the load generator's own client, a small share.)
func TestProfileRun(t *testing.T) {
	if testing.Short() || !profileRun {
		t.Skip("set -loadgen.profile to run")
	}
	s := acmetest.Start(t, acmetest.Embedded)
	var out bytes.Buffer
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Server: s.URL, AdminToken: s.AdminToken, Customers: *benchCustomers, Products: *benchProducts,
		Duration: *benchDuration, Rate: *benchRate, Warmup: 2 * time.Second, Progress: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Print(&out)
	t.Log("\n" + out.String())
}

var profileRun bool

func init() { flag.BoolVar(&profileRun, "loadgen.profile", false, "run TestProfileRun") }
