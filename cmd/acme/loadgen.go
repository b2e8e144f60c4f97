package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"acme/loadgen"
)

const loadgenUsage = `acme loadgen — drive a running server's HTTP API with concurrent customers
(browse → add to cart → checkout → poll until COMPLETED or FAILED) and print
throughput and latency percentiles. Admin token from ACME_ADMIN_TOKEN; only
loopback servers unless --allow-remote.

`

// loadgenCmd: acme loadgen [flags].
func loadgenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("acme loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, loadgenUsage); fs.PrintDefaults() }
	server := getenv("ACME_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	var c loadgen.Config
	fs.StringVar(&c.Server, "server", server, "`URL` of the running server (ACME_SERVER)")
	fs.IntVar(&c.Customers, "customers", 10, fmt.Sprintf("concurrent customers (1..%d)", loadgen.MaxCustomers))
	fs.IntVar(&c.Products, "products", 20, fmt.Sprintf("products created in the setup (1..%d)", loadgen.MaxProducts))
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, fmt.Sprintf("measured run time (at most %s)", loadgen.MaxDuration))
	fs.DurationVar(&c.Warmup, "warmup", 0, "run this long before measuring")
	fs.Float64Var(&c.Rate, "rate", 0, "checkouts started per second in total (0: as fast as possible)")
	fs.DurationVar(&c.Wait, "wait", 10*time.Second, "long-poll each checkout status request this long (whole seconds, at most 30s; the server answers when the checkout ends); -1s: plain polls every --poll")
	fs.DurationVar(&c.PollEvery, "poll", 2*time.Millisecond, "with --wait -1s: least checkout status poll interval (then a tenth of the time waited so far: the completion latency's resolution)")
	fs.Int64Var(&c.MaxCheckouts, "max-checkouts", 0, "start at most this many checkouts (0: no limit)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "wait at most this long for the checkouts in flight at the end")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a server that is not on this machine")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "acme loadgen takes no arguments, got %q\n", fs.Args())
		return 2
	}
	if c.Customers < 1 || c.Products < 1 || c.Duration <= 0 || c.PollEvery <= 0 || c.DrainTimeout <= 0 {
		fmt.Fprintln(stderr, "acme loadgen: --customers, --products, --duration, --poll and --drain-timeout must be positive")
		return 2
	}
	c.AdminToken = getenv("ACME_ADMIN_TOKEN")
	if c.AdminToken == "" {
		fmt.Fprintln(stderr, "acme loadgen: set ACME_ADMIN_TOKEN to the server's admin token")
		return 2
	}
	c.Progress = stdout
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, c)
	if res != nil {
		res.Print(stdout)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "acme loadgen: %v\n", err)
		if errors.Is(err, loadgen.ErrConfig) {
			return 2 // a usage error, like a bad flag
		}
		return 1 // the server refused or could not be reached, as for the other verbs
	}
	return 0
}
