package app

import (
	"log/slog"

	"acme/es"
)

// filteringHost drops, from a Consume, message types no wired context
// declares (their owner is not in modules.go yet): the consumer starts for
// the rest, and the log says what it will not hear. With every context wired
// nothing is dropped.
type filteringHost struct {
	es.Host
	log *slog.Logger
}

func (h filteringHost) Consume(name string, types []string, handler es.Handler) {
	if known := h.known(name, types); len(known) > 0 {
		h.Host.Consume(name, known, handler)
	}
}

func (h filteringHost) ConsumeBatch(name string, types []string, handler es.BatchHandler) {
	if known := h.known(name, types); len(known) > 0 {
		h.Host.ConsumeBatch(name, known, handler)
	}
}

// known returns the types a wired context declares, logging the others.
func (h filteringHost) known(name string, types []string) []string {
	known := make([]string, 0, len(types))
	var unknown []string
	for _, t := range types {
		if _, ok := h.Registry().Lookup(t); ok {
			known = append(known, t)
		} else {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		h.log.Warn("consumer ignores messages no wired context declares", "context", h.Name(), "consumer", name, "types", unknown)
	}
	return known
}
