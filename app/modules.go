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
	"acme/catalog"
	"acme/checkout"
	"acme/customers"
	"acme/inventory"
	"acme/notifications"
	"acme/ordering"
	"acme/reviews"
	"acme/warehouse"
)

// Deps are what module constructors may use.
type Deps struct {
	Config Config
	Clock  acme.Clock
	IDs    acme.IDs
}

func modules(d Deps) []Module {
	_ = d
	return []Module{
		catalog.New(catalog.WithClock(d.Clock)),
		checkout.New(checkout.Config{StepTimeout: d.Config.SagaStepTimeout, Clock: d.Clock}),
		customers.New(customers.WithClock(d.Clock)),
		inventory.New(inventory.WithClock(d.Clock)),
		notifications.New(notificationsConfig(d)),
		ordering.New(d.Clock),
		reviews.New(reviews.Config{Cache: ratingCache(d.Config), Clock: d.Clock}),
		warehouse.New(d.Clock),
		// ...add your context here: <ctx>.New(...),
	}
}
