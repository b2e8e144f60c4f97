package app

// This file lists the bounded contexts the process runs. Each context helper
// adds ONE line to the list in modules() (keep it sorted as below) and nothing
// else; re-read the file right before editing, others edit it too.
//
// A module is es.Module (Name, Messages, Start) plus Routes(*httpapi.API). A
// module that also implements httpapi.Authenticator (customers) becomes the
// API's authenticator. The Deps give what a constructor may need: the clock,
// the id source and the Config (Stripe key, SMTP, Redis URL, timeouts).

import (
	"acme"
	"acme/cart"
	"acme/catalog"
	"acme/checkout"
	"acme/customers"
	"acme/inventory"
	"acme/notifications"
	"acme/ordering"
	"acme/payments"
	"acme/promotions"
	"acme/reviews"
	"acme/search"
	"acme/warehouse"
)

// Deps are what module constructors may use.
type Deps struct {
	Config Config
	Clock  acme.Clock
	IDs    acme.IDs
	// OnClose registers a function the app calls when it closes (for adapters
	// a constructor opened, such as a Redis client).
	OnClose func(func() error)
}

func modules(d Deps) []Module {
	_ = d
	return []Module{
		cart.New(d.Clock),
		catalog.New(catalog.WithClock(d.Clock)),
		checkout.New(checkout.Config{StepTimeout: d.Config.SagaStepTimeout, ReservationTTL: d.Config.ReservationTTL, Clock: d.Clock}),
		customers.New(customers.WithClock(d.Clock)),
		inventory.New(inventory.WithClock(d.Clock), inventory.WithReservationTTL(d.Config.ReservationTTL)),
		notifications.New(notificationsConfig(d)),
		ordering.New(d.Clock),
		payments.New(payments.Config{Processor: paymentProcessor(d.Config), StripeKey: d.Config.StripeKey, StripeURL: d.Config.StripeURL, StripeWebhookSecret: d.Config.StripeWebhookSecret, Clock: d.Clock}),
		promotions.New(d.Clock),
		reviews.New(reviews.Config{Cache: ratingCache(d), ModerationWords: d.Config.ModerationWords, Clock: d.Clock}),
		search.New(d.Config.DataDir),
		warehouse.New(d.Clock),
		// ...add your context here: <ctx>.New(...),
	}
}

// paymentProcessor is Config.PaymentProcessor, or the built-in card processor
// slowed as Config.CardLatency says (nil: payments chooses, Stripe or the
// built-in processor).
func paymentProcessor(c Config) payments.Processor {
	if c.PaymentProcessor != nil || c.StripeKey != "" || c.CardLatency == "" {
		return c.PaymentProcessor
	}
	latency, delays, _ := payments.ParseDelays(c.CardLatency) // validated by Config.Validate
	return &payments.CardProcessor{Latency: latency, Delays: delays}
}
