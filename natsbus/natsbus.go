// Package natsbus is the es.Bus over NATS JetStream (nats.go's jetstream
// package). Embedded starts an in-process nats-server with JetStream file
// storage under the data dir and no TCP listener; Connect talks to an external
// server or cluster. After connecting the code is the same.
//
// Messages are CloudEvents in binary mode over NATS headers (ce-id, ce-type,
// ce-source, ce-specversion, ce-time, ce-subject) plus acme-correlationid,
// acme-causationid, acme-actor, acme-schemaversion, acme-position and
// traceparent; the body is the event's JSON data. Streams, subjects, consumer
// names and retention are documented in docs/bus.md.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"acme/es"
)

// Stream names (before Options.Prefix).
const (
	EventsStream   = "ACME_EVENTS"   // acme.evt.>, limits retention (replayable)
	CommandsStream = "ACME_COMMANDS" // acme.cmd.>, limits retention, purged up to each handler's ack floor
	DLQStream      = "ACME_DLQ"      // acme.dlq.>, limits retention
	LeaseBucket    = "ACME_LEASES"   // KV bucket of leases (relay: one per context)
	FloorsBucket   = "ACME_FLOORS"   // KV bucket of memory consumers' ack floors (see ConsumerState)

	dlqSubjectPrefix = "acme.dlq."
)

// Options tune a Bus. The zero value is the production configuration.
type Options struct {
	// Prefix is put before every stream name, KV bucket and wire subject, so
	// independent test runs on one server never collide: with "T1234_" the
	// events stream is "T1234_ACME_EVENTS" over "T1234_acme.evt.>". The es
	// subjects the callers see never carry it. Empty in production.
	Prefix string
	// DuplicateWindow is the JetStream deduplication window of the streams
	// (default 2 minutes, JetStream's default).
	DuplicateWindow time.Duration
	// FetchBatch is the number of messages a consumer pulls at once (default 64).
	FetchBatch int
	// FetchWait is the expiry of one pull request (default 1 s: short, so a
	// consumer never stalls for the 30 s default expiry).
	FetchWait time.Duration
	// Replicas of the streams on a cluster (default 1).
	Replicas int
	// PurgeInterval is how often a command consumer's acknowledged messages
	// are purged from the commands stream (default 5 s; see Bus.purgeLoop).
	PurgeInterval time.Duration
	// ConsumerState is where the server keeps each consumer's delivery and
	// ack state: ConsumerStateFile, or ConsumerStateMemory with the ack floor
	// checkpointed every FloorInterval in the FloorsBucket KV bucket, from
	// which a consumer lost with the server (a restart) starts again; what it
	// had acknowledged after the checkpoint is redelivered, and consumers'
	// inboxes absorb it. Default: memory for Embedded (whose server lives and
	// dies with the process), file for Connect (a server or cluster that
	// restarts on its own would lose live consumers). Why: a file consumer
	// rewrites its state file up to 10 times a second (a new file and a
	// rename each) for state the embedded server loses with the process
	// anyway, and creating files is costly on some file systems (docs/bus.md).
	ConsumerState string
	// FloorInterval is how often a memory consumer's ack floor is
	// checkpointed (default 1 s).
	FloorInterval time.Duration
}

// Options.ConsumerState values.
const (
	ConsumerStateFile   = "file"
	ConsumerStateMemory = "memory"
)

func (o *Options) defaults() {
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
	if o.FetchBatch <= 0 {
		o.FetchBatch = 64
	}
	if o.FetchWait <= 0 {
		o.FetchWait = time.Second
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.PurgeInterval <= 0 {
		o.PurgeInterval = 5 * time.Second
	}
	if o.FloorInterval <= 0 {
		o.FloorInterval = time.Second
	}
}

// Bus is the NATS JetStream implementation of es.Bus.
type Bus struct {
	opts   Options
	nc     *nats.Conn
	js     jetstream.JetStream
	srv    *server.Server // embedded server, nil for Connect
	kv     jetstream.KeyValue
	floors jetstream.KeyValue // nil unless consumers keep their state in memory
	closed chan struct{}
	// multiFilter: the server supports consumers with several filter
	// subjects (nats-server 2.10 and later).
	multiFilter bool
	// purgeCommands: the commands stream has limits retention, so command
	// consumers purge what they have acknowledged (false for a work-queue
	// stream created by an earlier version: the server removes acked messages).
	purgeCommands bool
	once          sync.Once
}

var _ es.Bus = (*Bus)(nil)

// Embedded starts an in-process nats-server (JetStream file storage under
// <dataDir>/nats, no TCP listener) and connects to it in-process.
func Embedded(ctx context.Context, dataDir string, opts ...Options) (*Bus, error) {
	dir := filepath.Join(dataDir, "nats")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "acme-embedded",
		JetStream:  true,
		StoreDir:   dir,
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	// Start directly (not in a goroutine): it returns ready in a few ms.
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("natsbus: embedded server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("acme"))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("natsbus: in-process connect: %w", err)
	}
	o := first(opts)
	if o.ConsumerState == "" {
		o.ConsumerState = ConsumerStateMemory
	}
	b, err := open(ctx, nc, o)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, err
	}
	b.srv = srv
	// The embedded server lives and dies with this process, and its data
	// directory is this process's alone: a lease still in the bucket is a
	// previous run's (a kill -9 leaves it until it expires, and the relays
	// and projections would wait that long before working again).
	if err := b.dropLeases(ctx); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// dropLeases deletes every lease.
func (b *Bus) dropLeases(ctx context.Context) error {
	keys, err := b.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("natsbus: list leases: %w", err)
	}
	for _, k := range keys {
		if err := b.kv.Purge(ctx, k); err != nil {
			return fmt.Errorf("natsbus: drop lease %s: %w", k, err)
		}
	}
	return nil
}

// Connect connects to an external NATS server or cluster at url.
func Connect(ctx context.Context, url string, opts ...Options) (*Bus, error) {
	nc, err := nats.Connect(url, nats.Name("acme"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect %s: %w", url, err)
	}
	b, err := open(ctx, nc, first(opts))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

func first(opts []Options) Options {
	if len(opts) > 0 {
		return opts[0]
	}
	return Options{}
}

func open(ctx context.Context, nc *nats.Conn, o Options) (*Bus, error) {
	o.defaults()
	switch o.ConsumerState {
	case "", ConsumerStateFile, ConsumerStateMemory:
	default:
		return nil, fmt.Errorf("natsbus: consumer state %q is neither %q nor %q", o.ConsumerState, ConsumerStateFile, ConsumerStateMemory)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	b := &Bus{opts: o, nc: nc, js: js, closed: make(chan struct{}), multiFilter: atLeast(nc.ConnectedServerVersion(), 2, 10)}
	// Commands have limits retention too, not work-queue: a work queue removes
	// each message as it is acknowledged, and the file store then deletes its
	// emptied last block and creates a new file, once per command whenever the
	// queue runs dry (a sixth of the server's CPU at 100 checkouts/s, where
	// creating a file is costly). Consumers purge what they have acknowledged
	// instead (purgeLoop), and Subscribe enforces the work queue's one handler
	// group per command subject.
	streams := []jetstream.StreamConfig{
		{Name: EventsStream, Subjects: []string{"acme.evt.>"}, Retention: jetstream.LimitsPolicy},
		{Name: CommandsStream, Subjects: []string{"acme.cmd.>"}, Retention: jetstream.LimitsPolicy},
		{Name: DLQStream, Subjects: []string{dlqSubjectPrefix + ">"}, Retention: jetstream.LimitsPolicy},
	}
	for _, sc := range streams {
		base := sc.Name
		sc.Name = o.Prefix + sc.Name
		sc.Subjects = []string{o.Prefix + sc.Subjects[0]}
		sc.Storage = jetstream.FileStorage
		sc.Duplicates = o.DuplicateWindow
		sc.Replicas = o.Replicas
		if base == CommandsStream {
			// JetStream cannot change a stream's retention: a work-queue
			// commands stream of an earlier version stays one.
			if s, err := js.Stream(ctx, sc.Name); err == nil && s.CachedInfo().Config.Retention == jetstream.WorkQueuePolicy {
				sc.Retention = jetstream.WorkQueuePolicy
			}
			b.purgeCommands = sc.Retention == jetstream.LimitsPolicy
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("natsbus: stream %s: %w", sc.Name, err)
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: o.Prefix + LeaseBucket, History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas,
		TTL: 0, // per-key expiry is done by the lease itself (see Lease)
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: lease bucket: %w", err)
	}
	b.kv = kv
	if o.ConsumerState == ConsumerStateMemory {
		b.floors, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: o.Prefix + FloorsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("natsbus: floors bucket: %w", err)
		}
	}
	return b, nil
}

// Conn returns the underlying connection (for benchmarks and tests).
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream returns the underlying JetStream context (for benchmarks and tests).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Subject returns the wire subject of an es subject (with Options.Prefix).
func (b *Bus) Subject(s string) string { return b.opts.Prefix + s }

// StreamName returns the wire name of a stream (with Options.Prefix).
func (b *Bus) StreamName(s string) string { return b.opts.Prefix + s }

// Close closes the connection and stops the embedded server, if any.
func (b *Bus) Close() error {
	b.once.Do(func() {
		close(b.closed)
		_ = b.nc.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !b.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		b.nc.Close()
		if b.srv != nil {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
		}
	})
	return nil
}

func (b *Bus) isClosed() bool {
	select {
	case <-b.closed:
		return true
	default:
		return false
	}
}

// Publish publishes msgs asynchronously and waits for every acknowledgment.
func (b *Bus) Publish(ctx context.Context, msgs ...es.Envelope) error {
	if b.isClosed() {
		return es.ErrClosed
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, e := range msgs {
		m := encode(b.opts.Prefix+e.Subject, e.Message)
		f, err := b.js.PublishMsgAsync(m, jetstream.WithMsgID(e.Message.ID))
		if err != nil {
			return fmt.Errorf("natsbus: publish %s: %w", e.Subject, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("natsbus: publish %s: %w", msgs[i].Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("natsbus: publish: %w", ctx.Err())
		}
	}
	return nil
}

// streamOf returns the stream of an es subject.
func streamOf(subject string) (string, error) {
	switch {
	case strings.HasPrefix(subject, es.EventSubjectPrefix):
		return EventsStream, nil
	case strings.HasPrefix(subject, es.CommandSubjectPrefix):
		return CommandsStream, nil
	}
	return "", fmt.Errorf("natsbus: subject %q is neither acme.evt.* nor acme.cmd.*", subject)
}

// Lease implements es.Bus with a KV key per lease whose value is
// "<holder> <expiry unix nanos>": created when absent or expired, updated
// (compare-and-set on the revision) by its holder.
func (b *Bus) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if b.isClosed() {
		return false, es.ErrClosed
	}
	key := leaseKey(name)
	val := []byte(holder + " " + strconv.FormatInt(time.Now().Add(ttl).UnixNano(), 10))
	e, err := b.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		if _, err := b.kv.Create(ctx, key, val); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return false, nil
			}
			return false, fmt.Errorf("natsbus: lease %s: %w", name, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("natsbus: lease %s: %w", name, err)
	}
	cur, exp := parseLease(e.Value())
	if cur != holder && time.Now().UnixNano() < exp {
		return false, nil
	}
	if _, err := b.kv.Update(ctx, key, val, e.Revision()); err != nil {
		// Someone else renewed or took it in between.
		return false, nil
	}
	return true, nil
}

// ReleaseLease deletes the lease if holder has it.
func (b *Bus) ReleaseLease(ctx context.Context, name, holder string) error {
	if b.isClosed() {
		return es.ErrClosed
	}
	key := leaseKey(name)
	e, err := b.kv.Get(ctx, key)
	if err != nil {
		return nil
	}
	if cur, _ := parseLease(e.Value()); cur != holder {
		return nil
	}
	_ = b.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	return nil
}

func leaseKey(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, name)
}

func parseLease(v []byte) (holder string, expiry int64) {
	h, e, _ := strings.Cut(string(v), " ")
	n, _ := strconv.ParseInt(e, 10, 64)
	return h, n
}

// Destroy deletes the streams and the KV buckets of this bus's prefix (test
// clean-up on a shared server); the bus is unusable afterwards.
func (b *Bus) Destroy(ctx context.Context) error {
	var errs []error
	for _, st := range []string{EventsStream, CommandsStream, DLQStream} {
		if err := b.js.DeleteStream(ctx, b.opts.Prefix+st); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, err)
		}
	}
	for _, kv := range []string{LeaseBucket, FloorsBucket} {
		if err := b.js.DeleteKeyValue(ctx, b.opts.Prefix+kv); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// atLeast reports whether server version v ("2.9.10") is at least major.minor.
func atLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
