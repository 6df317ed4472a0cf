package streamer

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Stream metrics, on the same registry as controller-runtime's, served at
// the streamer's /metrics.
var (
	openStreams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cast_streamer_open_streams", Help: "Event streams open on this replica.",
	})
	eventsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_streamer_events_sent_total", Help: "Stream events written, by event type.",
	}, []string{"event"})
	streamsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_streamer_streams_closed_total", Help: "Streams ended or refused, by reason.",
	}, []string{"reason"})
	deliveryLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cast_streamer_delivery_lag_seconds",
		Help:    "Time from the streamer seeing a status change to writing it to a client.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
)

func init() {
	metrics.Registry.MustRegister(openStreams, eventsSent, streamsClosed, deliveryLag)
}
