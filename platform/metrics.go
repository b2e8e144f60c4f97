package platform

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	relayPublished       *prometheus.CounterVec
	relayPosition        *prometheus.GaugeVec
	relayLag             *prometheus.GaugeVec
	consumerDeliveries   *prometheus.CounterVec
	consumerRedeliveries *prometheus.CounterVec
	consumerDeadLetters  *prometheus.CounterVec
	consumerLatency      *prometheus.HistogramVec
	projectionPosition   *prometheus.GaugeVec
	projectionLag        *prometheus.GaugeVec
	storeCommits         *prometheus.CounterVec
	storeEvents          *prometheus.CounterVec
	storeCommitLatency   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		relayPublished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "acme_relay_published_total",
			Help: "Log entries the relay published to the bus (acknowledged), by context; internal events are not published."}, []string{"context"}),
		relayPosition: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "acme_relay_position",
			Help: "Relay checkpoint: the last log position published, by context."}, []string{"context"}),
		relayLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "acme_relay_lag",
			Help: "Log entries committed but not yet published, by context."}, []string{"context"}),
		consumerDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "acme_consumer_deliveries_total",
			Help: "Messages delivered to a consumer (first deliveries and redeliveries)."}, []string{"consumer"}),
		consumerRedeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "acme_consumer_redeliveries_total",
			Help: "Redeliveries of a message to a consumer."}, []string{"consumer"}),
		consumerDeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "acme_consumer_dead_letters_total",
			Help: "Messages a consumer dead-lettered."}, []string{"consumer"}),
		consumerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "acme_consumer_handler_seconds",
			Help:    "Time to apply one message (handler and commit).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"consumer"}),
		projectionPosition: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "acme_projection_position",
			Help: "Log position a projection has applied."}, []string{"projection"}),
		projectionLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "acme_projection_lag",
			Help: "Log entries a projection has not applied yet."}, []string{"projection"}),
		storeCommits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "acme_store_commits_total",
			Help: "Commits to a context's event store, by outcome (ok, concurrency, duplicate, error)."}, []string{"context", "outcome"}),
		storeEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "acme_store_appended_events_total",
			Help: "Events appended to a context's event store."}, []string{"context"}),
		storeCommitLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "acme_store_commit_seconds",
			Help:    "Time for a commit to become durable (group commit included).",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"context"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.relayPublished, m.relayPosition, m.relayLag, m.consumerDeliveries,
		m.consumerRedeliveries, m.consumerDeadLetters, m.consumerLatency, m.projectionPosition, m.projectionLag,
		m.storeCommits, m.storeEvents, m.storeCommitLatency} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
