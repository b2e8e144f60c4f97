package app

import (
	"context"
	"time"

	"acme/es"
	"acme/msgschema"
	"acme/natsbus"
	"acme/platform"
	"acme/postgres"
	"acme/sqlite"
)

// openStores returns the opener of the context stores: SQLite files under the
// data dir, or one PostgreSQL schema per context (<SchemaPrefix><context>)
// when a PostgreSQL URL is set.
func openStores(_ context.Context, c Config) (es.Opener, error) {
	if c.PostgresURL != "" {
		return postgres.Opener(c.PostgresURL, c.SchemaPrefix, postgres.WithMaxConns(c.PostgresMaxConns)), nil
	}
	return sqlite.Opener(c.DataDir, sqlite.WithExclusive()), nil
}

// openBus connects the bus: an embedded NATS JetStream server under the data
// dir (no TCP listener), or the external server at NATSURL.
func openBus(ctx context.Context, c Config) (es.Bus, error) {
	opts := natsbus.Options{Prefix: c.BusPrefix, ConsumerState: c.NATSConsumerState}
	if c.NATSURL != "" {
		return natsbus.Connect(ctx, c.NATSURL, opts)
	}
	return natsbus.Embedded(ctx, c.DataDir, opts)
}

// newPlatform builds the platform over the bus; incoming messages are
// validated against their JSON Schemas.
func newPlatform(a *App, bus es.Bus) (Platform, error) {
	v := msgschema.NewValidator(a.registry)
	return platform.New(platform.Config{
		Bus:      bus,
		Registry: a.registry,
		Metrics:  a.metrics,
		Logger:   a.log,
		// The checkout path's consumers apply different checkouts, payments
		// and orders in parallel (each source stream stays in order);
		// payments with more lanes, as each waits on the card processor. The
		// inventory commands stay serial: reservations of one hot product
		// would only contend. Notifications too: one worker fell behind under
		// load (each fact waits for its commit), by thousands of facts.
		KeyedWorkers: map[string]int{
			"checkout.start": 4, "payments.commands": 16,
			"ordering.commands": 4, "ordering.payments": 4, "cart.checkouts": 4,
			"notifications.facts": 4,
		},
		// A mail server down for a few seconds should not lose an email to
		// the dead letters: notifications retries for about five minutes
		// (200 ms doubling to 2 min, 12 deliveries) before an admin must.
		// A refund or a void owed to a customer waits out a card processor's
		// outage of up to about 45 minutes (20 deliveries, 200 ms doubling to
		// 5 min) before an admin must. Not authorize and capture: the saga's
		// step deadline decides those, and the payment's state refuses what
		// comes after it.
		Retries: map[string]platform.RetryPolicy{
			"notifications.facts":             {MaxDeliveries: 12, MaxBackoff: 2 * time.Minute},
			"payments.commands/RefundPayment": {MaxDeliveries: 20, MaxBackoff: 5 * time.Minute},
			"payments.commands/VoidPayment":   {MaxDeliveries: 20, MaxBackoff: 5 * time.Minute},
		},
		Validate: func(m es.Message) error {
			t, ok := a.registry.Lookup(m.Type)
			if !ok || t.Spec().Name != m.Type || (m.SchemaVersion != 0 && m.SchemaVersion != t.Spec().SchemaVersion()) {
				return nil // an alias or an older version: upcast on decode, not ours to judge here
			}
			return v.ValidateMessage(m.ID, m.Type, m.Data)
		},
	})
}
