package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"acme/natsbus"
	"acme/payments"
)

// Config is everything the process is configured with, read once by cmd/acme
// from flags and environment variables. Nothing else reads the environment.
type Config struct {
	// Addr is the listen address (--addr / ACME_ADDR), "127.0.0.1:0" for a free port.
	Addr string
	// DataDir holds the SQLite files, the embedded NATS storage and the search
	// index (--data-dir / ACME_DATA_DIR). Created if missing.
	DataDir string
	// PostgresURL switches the event stores to PostgreSQL, one schema per
	// context (--postgres-url / ACME_POSTGRES_URL). Empty: SQLite under DataDir.
	PostgresURL string
	// PostgresMaxConns bounds each context store's connection pool
	// (--postgres-max-conns / ACME_POSTGRES_MAX_CONNS, default 4; each store
	// also holds one LISTEN connection). Thirteen stores share the server's
	// max_connections, so keep stores × (this + 1) well below it.
	PostgresMaxConns int
	// SchemaPrefix is put before every PostgreSQL schema name ("acme_" by
	// default: schema acme_catalog) and the Redis keys (--schema-prefix /
	// ACME_SCHEMA_PREFIX): several deployments on one PostgreSQL. Tests use a
	// unique one per run.
	SchemaPrefix string
	// NATSURL switches the bus to an external NATS JetStream server or cluster
	// (--nats-url / ACME_NATS_URL). Empty: an embedded server under DataDir.
	NATSURL string
	// NATSConsumerState is where the NATS server keeps the consumers' state
	// (--nats-consumer-state / ACME_NATS_CONSUMER_STATE): "memory", with
	// ack floors checkpointed every second (the embedded default), or
	// "file" (the default with NATSURL). See docs/bus.md.
	NATSConsumerState string
	// BusPrefix is put before every NATS stream, KV bucket and subject
	// (--bus-prefix / ACME_BUS_PREFIX; empty by default): several deployments
	// on one NATS server. Tests use a unique one per run.
	BusPrefix string
	// RedisURL puts the rating cache in Redis (--redis-url / ACME_REDIS_URL).
	// Empty: in-process.
	RedisURL string
	// AdminToken is the bearer token of the built-in admin (ACME_ADMIN_TOKEN,
	// env only). Empty: New generates a random one (see AdminTokenGenerated).
	AdminToken string

	// StripeKey enables the Stripe payment processor (--stripe-key /
	// ACME_STRIPE_KEY); empty: the built-in test card processor.
	StripeKey string
	// StripeWebhookSecret verifies Stripe webhooks (ACME_STRIPE_WEBHOOK_SECRET).
	StripeWebhookSecret string
	// StripeURL overrides the Stripe API base URL (stripe-mock in tests).
	StripeURL string
	// SMTPAddr sends notification emails through an SMTP server
	// (--smtp-addr / ACME_SMTP_ADDR, host:port); empty: emails are only recorded.
	SMTPAddr string
	// SMTPFrom is the sender address of notification emails (ACME_SMTP_FROM).
	SMTPFrom string
	// SMTPUser and SMTPPassword authenticate to the SMTP server
	// (--smtp-user / ACME_SMTP_USER, ACME_SMTP_PASSWORD env only).
	SMTPUser     string
	SMTPPassword string
	// SlackWebhookURL sends operational alerts (out of stock) to Slack
	// (--slack-webhook-url / ACME_SLACK_WEBHOOK_URL); empty disables Slack.
	SlackWebhookURL string
	// SMSWebhookURL is the SMS gateway (--sms-webhook-url / ACME_SMS_WEBHOOK_URL);
	// OpsPhone receives operational alerts by SMS (--ops-phone / ACME_OPS_PHONE).
	SMSWebhookURL string
	OpsPhone      string
	// PublicURL is where customers reach the API, for the links in emails
	// (--public-url / ACME_PUBLIC_URL; default http://<addr>, with localhost
	// for an address of every interface).
	PublicURL string
	// OpsEmail receives operational alerts by email (--ops-email / ACME_OPS_EMAIL,
	// default ops@acme.test).
	OpsEmail string
	// ModerationWords replaces the moderation list shipped in
	// reviews/moderation.txt (--moderation-list FILE / ACME_MODERATION_LIST).
	ModerationWords []string
	// SagaStepTimeout is the deadline of each checkout saga step
	// (--saga-step-timeout / ACME_SAGA_STEP_TIMEOUT, default 30s).
	SagaStepTimeout time.Duration
	// ReservationTTL is how long inventory holds a checkout's stock if
	// nothing confirms it (--reservation-ttl / ACME_RESERVATION_TTL, default
	// 15m). A reservation that expires under a running checkout fails it.
	ReservationTTL time.Duration
	// ShutdownTimeout bounds the graceful stop (default 10s).
	ShutdownTimeout time.Duration
	// DebugAddr, when set, serves Go's profiler (/debug/pprof/) on its own
	// listener, without authentication (--debug-addr / ACME_DEBUG_ADDR).
	DebugAddr string

	// CardLatency slows the built-in card processor (when neither
	// PaymentProcessor nor Stripe is set): a duration for every call, or
	// operations with theirs, "authorize=10s,capture=1s" (--card-latency /
	// ACME_CARD_LATENCY; payments.ParseDelays). For trying out a saga step's
	// deadline against the real binary.
	CardLatency string

	// PaymentProcessor, when set, is the payment processor, in place of the
	// built-in card processor or Stripe (tests inject latency and failures
	// through a payments.CardProcessor).
	PaymentProcessor payments.Processor

	// Logger is the process logger (default: text to stderr).
	Logger *slog.Logger
	// Version is the build's version string (acme version).
	Version string
}

// Defaults of the contract's "Starting the server" table.
const (
	DefaultAddr    = "127.0.0.1:8080"
	DefaultDataDir = "./data"
)

// WithDefaults returns c with every empty setting at its default.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.SchemaPrefix == "" {
		c.SchemaPrefix = "acme_"
	}
	if c.PostgresMaxConns == 0 {
		c.PostgresMaxConns = 4
	}
	if c.SagaStepTimeout == 0 {
		c.SagaStepTimeout = 30 * time.Second
	}
	if c.ReservationTTL == 0 {
		c.ReservationTTL = 15 * time.Minute
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.PublicURL == "" {
		c.PublicURL = defaultPublicURL(c.Addr)
	}
	if c.SMTPFrom == "" {
		c.SMTPFrom = "Acme Commerce <no-reply@acme.example>"
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}

// defaultPublicURL is http://addr, with localhost in place of a host that
// means every interface (":8080", "0.0.0.0:8080", "[::]:8080").
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr // Validate reports the address
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Validate reports every invalid setting at once, each with the flag or
// variable that sets it.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("--addr / ACME_ADDR %q: want host:port, e.g. 127.0.0.1:8080 (%v)", c.Addr, err)
	} else if _, err := net.LookupPort("tcp", port); err != nil || strings.ContainsAny(host, " /") {
		bad("--addr / ACME_ADDR %q: invalid host or port", c.Addr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("--public-url / ACME_PUBLIC_URL %q: want an http(s) URL such as https://shop.example.com", c.PublicURL)
	}
	if !validBusPrefix(c.BusPrefix) {
		bad("--bus-prefix / ACME_BUS_PREFIX %q: only letters, digits, _ and -", c.BusPrefix)
	}
	if _, _, err := payments.ParseDelays(c.CardLatency); err != nil {
		bad("--card-latency / ACME_CARD_LATENCY %v", err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("--data-dir / ACME_DATA_DIR must not be empty")
	}
	checkURL := func(name, raw string, schemes ...string) {
		if raw == "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			bad("%s: %v", name, err)
			return
		}
		ok := false
		for _, s := range schemes {
			ok = ok || u.Scheme == s
		}
		if !ok || u.Host == "" {
			bad("%s %q: want %s://host:port/...", name, redact(u), strings.Join(schemes, ":// or "))
		}
	}
	checkURL("--postgres-url / ACME_POSTGRES_URL", c.PostgresURL, "postgres", "postgresql")
	checkURL("--nats-url / ACME_NATS_URL", c.NATSURL, "nats", "tls")
	checkURL("--redis-url / ACME_REDIS_URL", c.RedisURL, "redis", "rediss")
	switch c.NATSConsumerState {
	case "", natsbus.ConsumerStateMemory, natsbus.ConsumerStateFile:
	default:
		bad("--nats-consumer-state / ACME_NATS_CONSUMER_STATE %q: want %s or %s", c.NATSConsumerState, natsbus.ConsumerStateMemory, natsbus.ConsumerStateFile)
	}
	checkURL("--slack-webhook-url / ACME_SLACK_WEBHOOK_URL", c.SlackWebhookURL, "http", "https")
	checkURL("--sms-webhook-url / ACME_SMS_WEBHOOK_URL", c.SMSWebhookURL, "http", "https")
	if c.AdminToken != "" && (len(c.AdminToken) < 8 || strings.ContainsAny(c.AdminToken, " \t\r\n")) {
		bad("ACME_ADMIN_TOKEN must be at least 8 characters without spaces")
	}
	if c.SchemaPrefix != "" && !validIdent(c.SchemaPrefix) {
		bad("schema prefix %q: only lower-case letters, digits and _", c.SchemaPrefix)
	}
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
			bad("--smtp-addr / ACME_SMTP_ADDR %q: want host:port", c.SMTPAddr)
		}
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			bad("--debug-addr / ACME_DEBUG_ADDR %q: want host:port", c.DebugAddr)
		}
	}
	if c.PostgresMaxConns < 0 {
		bad("--postgres-max-conns / ACME_POSTGRES_MAX_CONNS must be positive")
	}
	if c.SagaStepTimeout < 0 {
		bad("--saga-step-timeout / ACME_SAGA_STEP_TIMEOUT must be positive")
	}
	if c.ReservationTTL < 0 {
		bad("--reservation-ttl / ACME_RESERVATION_TTL must be positive")
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown timeout must be positive")
	}
	return errors.Join(errs...)
}

// validBusPrefix: what NATS accepts in stream and bucket names and subjects.
func validBusPrefix(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validIdent(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func redact(u *url.URL) string {
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}
