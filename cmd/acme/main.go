// Command acme runs Acme Commerce: `acme serve` starts the server (embedded
// SQLite + NATS by default, PostgreSQL/NATS/Redis in server mode); the other
// verbs talk to a running server with the admin token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"acme/app"
	"acme/reviews"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

const usage = `acme — Acme Commerce

Usage:
  acme serve [flags]                 run the server (see acme serve -h)
  acme version                       print the version
  acme help                          this text

Talking to a running server (admin token from ACME_ADMIN_TOKEN; --server URL,
default http://127.0.0.1:8080, or ACME_SERVER):
  acme events STREAM                 the events of a stream
  acme projections                   projections with position, lag and status
  acme projections rebuild NAME      rebuild a projection (reads keep being served)
  acme consumers                     bus consumers with position, pending messages and status
  acme sagas [--status S]            checkout sagas
  acme dlq                           dead letters
  acme dlq retry ID                  re-drive a dead letter
  acme catalog export DIR            write the message catalog (EventCatalog
                                     directory + asyncapi.json) into DIR
  acme loadgen [flags]               load test: customers browse, add, check
                                     out (see acme loadgen -h)

Environment of acme serve (each but the token also a flag: acme serve -h):
ACME_ADMIN_TOKEN (env only; generated and printed once if unset),
ACME_ADDR, ACME_DATA_DIR, ACME_DEBUG_ADDR, ACME_LOG_LEVEL, ACME_PUBLIC_URL;
ACME_POSTGRES_URL, ACME_POSTGRES_MAX_CONNS, ACME_SCHEMA_PREFIX;
ACME_NATS_URL, ACME_BUS_PREFIX, ACME_NATS_CONSUMER_STATE; ACME_REDIS_URL;
ACME_STRIPE_KEY, ACME_STRIPE_URL, ACME_STRIPE_WEBHOOK_SECRET, ACME_CARD_LATENCY;
ACME_SMTP_ADDR, ACME_SMTP_FROM, ACME_SMTP_USER, ACME_SMTP_PASSWORD,
ACME_OPS_EMAIL, ACME_OPS_PHONE, ACME_SLACK_WEBHOOK_URL, ACME_SMS_WEBHOOK_URL;
ACME_SAGA_STEP_TIMEOUT, ACME_RESERVATION_TTL, ACME_MODERATION_LIST.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: testable.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "acme", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "events", "projections", "consumers", "sagas", "dlq":
		return client(ctx, args, getenv, stdout, stderr)
	case "catalog":
		return catalogCmd(args[1:], stdout, stderr)
	case "loadgen":
		return loadgenCmd(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "acme: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parseServe reads flags and environment into an app.Config (flags win over
// the environment, which wins over the defaults).
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (app.Config, string, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("acme serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c app.Config
	fs.StringVar(&c.Addr, "addr", env("ACME_ADDR", app.DefaultAddr), "listen address `host:port` (ACME_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("ACME_DATA_DIR", app.DefaultDataDir), "data directory: SQLite files, embedded NATS storage, search index (ACME_DATA_DIR)")
	fs.StringVar(&c.PostgresURL, "postgres-url", env("ACME_POSTGRES_URL", ""), "PostgreSQL `URL`: event stores in one schema per context instead of SQLite (ACME_POSTGRES_URL)")
	maxConns := env("ACME_POSTGRES_MAX_CONNS", "4")
	fs.Func("postgres-max-conns", "connections per context store's PostgreSQL pool, default 4 (ACME_POSTGRES_MAX_CONNS)", func(s string) error { maxConns = s; return nil })
	fs.StringVar(&c.SchemaPrefix, "schema-prefix", env("ACME_SCHEMA_PREFIX", ""), "prefix of the PostgreSQL schemas and Redis keys, for several deployments on one server (ACME_SCHEMA_PREFIX; default acme_)")
	fs.StringVar(&c.BusPrefix, "bus-prefix", env("ACME_BUS_PREFIX", ""), "prefix of the NATS streams, buckets and subjects, for several deployments on one NATS (ACME_BUS_PREFIX; default none)")
	fs.StringVar(&c.NATSURL, "nats-url", env("ACME_NATS_URL", ""), "external NATS JetStream `URL` instead of the embedded server (ACME_NATS_URL)")
	fs.StringVar(&c.NATSConsumerState, "nats-consumer-state", env("ACME_NATS_CONSUMER_STATE", ""), "where NATS keeps consumers' state: memory (embedded default) or file (default with --nats-url) (ACME_NATS_CONSUMER_STATE)")
	fs.StringVar(&c.RedisURL, "redis-url", env("ACME_REDIS_URL", ""), "Redis `URL` for the rating cache instead of in-process (ACME_REDIS_URL)")
	fs.StringVar(&c.StripeKey, "stripe-key", env("ACME_STRIPE_KEY", ""), "Stripe secret key: use Stripe instead of the built-in test card processor (ACME_STRIPE_KEY)")
	fs.StringVar(&c.StripeURL, "stripe-url", env("ACME_STRIPE_URL", ""), "Stripe API base URL, e.g. a stripe-mock (ACME_STRIPE_URL)")
	fs.StringVar(&c.SMTPAddr, "smtp-addr", env("ACME_SMTP_ADDR", ""), "SMTP server `host:port` for notification emails (ACME_SMTP_ADDR)")
	fs.StringVar(&c.SMTPFrom, "smtp-from", env("ACME_SMTP_FROM", ""), "sender address of notification emails (ACME_SMTP_FROM)")
	fs.StringVar(&c.SMTPUser, "smtp-user", env("ACME_SMTP_USER", ""), "SMTP user name; the password comes from ACME_SMTP_PASSWORD (ACME_SMTP_USER)")
	c.SMTPPassword = env("ACME_SMTP_PASSWORD", "")
	fs.StringVar(&c.SlackWebhookURL, "slack-webhook-url", env("ACME_SLACK_WEBHOOK_URL", ""), "Slack incoming-webhook `URL` for operational alerts (ACME_SLACK_WEBHOOK_URL)")
	fs.StringVar(&c.SMSWebhookURL, "sms-webhook-url", env("ACME_SMS_WEBHOOK_URL", ""), "SMS gateway webhook `URL` (ACME_SMS_WEBHOOK_URL)")
	fs.StringVar(&c.OpsPhone, "ops-phone", env("ACME_OPS_PHONE", ""), "phone number for operational alerts by SMS (ACME_OPS_PHONE)")
	fs.StringVar(&c.PublicURL, "public-url", env("ACME_PUBLIC_URL", ""), "`URL` where customers reach the API, for the links in emails (ACME_PUBLIC_URL; default http://<addr>)")
	fs.StringVar(&c.OpsEmail, "ops-email", env("ACME_OPS_EMAIL", ""), "email address for operational alerts (ACME_OPS_EMAIL, default ops@acme.test)")
	moderationList := env("ACME_MODERATION_LIST", "")
	fs.StringVar(&moderationList, "moderation-list", moderationList, "`FILE` of words that hold a review for moderation, one per line (ACME_MODERATION_LIST; default: the list shipped in reviews/moderation.txt)")
	fs.StringVar(&c.CardLatency, "card-latency", env("ACME_CARD_LATENCY", ""), "slow the built-in card processor: a duration for every call (2s) or per operation (authorize=10s,capture=1s), to see a saga step time out (ACME_CARD_LATENCY)")
	stepTimeout := env("ACME_SAGA_STEP_TIMEOUT", "30s")
	fs.Func("saga-step-timeout", "deadline of each checkout saga step, e.g. 30s (ACME_SAGA_STEP_TIMEOUT)", func(s string) error { stepTimeout = s; return nil })
	reservationTTL := env("ACME_RESERVATION_TTL", "15m")
	fs.Func("reservation-ttl", "how long a checkout's stock is held if nothing confirms it, e.g. 15m (ACME_RESERVATION_TTL)", func(s string) error { reservationTTL = s; return nil })
	level := env("ACME_LOG_LEVEL", "info")
	fs.StringVar(&level, "log-level", level, "debug, info, warn or error (ACME_LOG_LEVEL)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("ACME_DEBUG_ADDR", ""), "serve Go's profiler (/debug/pprof/) on this `host:port`, without authentication: keep it on loopback (ACME_DEBUG_ADDR; off by default)")
	if err := fs.Parse(args); err != nil {
		return c, "", err
	}
	if fs.NArg() > 0 {
		return c, "", fmt.Errorf("acme serve takes no arguments, got %q", fs.Args())
	}
	if n, err := strconv.Atoi(maxConns); err != nil || n < 1 {
		return c, "", fmt.Errorf("--postgres-max-conns / ACME_POSTGRES_MAX_CONNS %q: want a positive integer", maxConns)
	} else {
		c.PostgresMaxConns = n
	}
	if moderationList != "" {
		b, err := os.ReadFile(moderationList)
		if err != nil {
			return c, "", fmt.Errorf("--moderation-list / ACME_MODERATION_LIST: %v", err)
		}
		c.ModerationWords = reviews.ParseWordList(string(b))
	}
	d, err := time.ParseDuration(stepTimeout)
	if err != nil {
		return c, "", fmt.Errorf("--saga-step-timeout / ACME_SAGA_STEP_TIMEOUT %q: %v", stepTimeout, err)
	}
	c.SagaStepTimeout = d
	if d, err = time.ParseDuration(reservationTTL); err != nil || d <= 0 {
		return c, "", fmt.Errorf("--reservation-ttl / ACME_RESERVATION_TTL %q: want a positive duration such as 15m", reservationTTL)
	}
	c.ReservationTTL = d
	c.AdminToken = getenv("ACME_ADMIN_TOKEN")
	c.StripeWebhookSecret = getenv("ACME_STRIPE_WEBHOOK_SECRET")
	c.Version = version
	return c, level, c.WithDefaults().Validate()
}

// servicesLine says what serves the stores, the bus and the rating cache:
// embedded under the data dir, or the external services configured.
func servicesLine(c app.Config) string {
	stores, bus, cache := "SQLite under "+c.DataDir, "embedded NATS", "ratings in process"
	if c.PostgresURL != "" {
		stores = "PostgreSQL"
	}
	if c.NATSURL != "" {
		bus = "external NATS" // not the URL: it may hold credentials
	}
	if c.RedisURL != "" {
		cache = "ratings in Redis"
	}
	return stores + ", " + bus + ", " + cache
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, level, err := parseServe(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "acme serve: %v\n", err)
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		fmt.Fprintf(stderr, "acme serve: --log-level %q: want debug, info, warn or error\n", level)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "acme serve: %v\n", err)
		return 2
	}
	if err := a.Run(ctx); err != nil {
		if ctx.Err() != nil {
			// stopped by a signal while starting: everything opened is closed
			cfg.Logger.Info("stopped while starting")
			return 0
		}
		fmt.Fprintf(stderr, "acme serve: %v\n", err)
		return 1
	}
	if a.GeneratedAdminToken() {
		fmt.Fprintf(stdout, "ACME_ADMIN_TOKEN was not set; the admin token of this run is:\n  %s\n", a.AdminToken())
	}
	fmt.Fprintf(stdout, "acme %s listening on %s (%s)\n", version, a.URL(), servicesLine(cfg))
	<-ctx.Done()
	stop() // a second signal kills the process the default way
	cfg.Logger.Info("stopping")
	if err := a.Close(); err != nil {
		fmt.Fprintf(stderr, "acme serve: stop: %v\n", err)
		return 1
	}
	cfg.Logger.Info("stopped")
	return 0
}
