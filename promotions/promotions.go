// Package promotions is the Promotion System: it owns promotion rules.
//
// Language: a promotion is a code (unique, case-insensitive) giving either a
// percentage off (value 10 = 10 %, up to two decimals) or a fixed amount off
// (value is Money), optionally only above a minimum subtotal, only for some
// products or categories (scope), and only within a validity window
// [startsAt, endsAt).
//
// The rules are published as PromotionCreated; the cart keeps its own read model
// of them and answers the CalculateDiscount query in-process with its pure
// CalculateDiscount function (rounding half-up to the minor unit; percentage of
// the in-scope lines' subtotal; fixed capped at that subtotal), recording the
// result as its DiscountCalculated event. Contexts never import each other, so
// the discount arithmetic lives where it is applied (package cart); this package
// owns the rules' validation and their uniqueness.
//
// Invariants: a code is taken once (stream "promotion-<CODE>", created with
// an expected version: two concurrent creations cannot both win → 409
// promotion_code_taken); every other invalid request is 422 validation_failed.
//
// In: CreatePromotion (HTTP, admin). Out: PromotionCreated.
package promotions

import (
	"context"
	"embed"
	"fmt"

	"acme"
	"acme/es"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Module is the promotions bounded context.
type Module struct {
	clock acme.Clock
	h     es.Host
	codes *es.Aggregate[Code, createPromotion]
}

// New returns the promotions module.
func New(clock acme.Clock) *Module {
	if clock == nil {
		clock = acme.SystemClock{}
	}
	return &Module{clock: clock}
}

// Name implements es.Module.
func (m *Module) Name() string { return "promotions" }

// Messages implements es.Module.
func (m *Module) Messages() []es.MessageType { return messages() }

// Start implements es.Module.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	if err := es.MigrateDir(ctx, h.Store(), "promotions", migrations, "migrations"); err != nil {
		return fmt.Errorf("promotions: migrate: %w", err)
	}
	m.h = h
	m.codes = &es.Aggregate[Code, createPromotion]{Store: h.Store(), Registry: h.Registry(), NewID: h.NewID,
		StreamType: "promotion", Decider: Decider, Inline: m.inline}
	return nil
}
