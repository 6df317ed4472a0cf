package streamer

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/spell-platform/cast-operator/streamer/wire"
)

// Stream metrics, on the same registry as controller-runtime's, served at
// the metrics server of the streamer's manager (--metrics-bind-address).
var (
	openStreams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cast_streamer_open_streams", Help: "Event streams open on this replica.",
	})
	eventsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_streamer_events_sent_total", Help: "Stream events written, by event type.",
	}, []string{"event"})
	streamsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_streamer_streams_closed_total", Help: "Streams that were open and ended, by reason.",
	}, []string{"reason"})
	requestsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_streamer_requests_refused_total", Help: "Requests (streams or JSON) refused by admission or RBAC, by reason.",
	}, []string{"reason"})
	deliveryLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cast_streamer_delivery_lag_seconds",
		Help:    "Time from the streamer seeing a status change to writing it to a client.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
)

// sentKinds are the event types a stream counts without a label lookup:
// their eventsSent series are resolved once (sentSeries), and a stream
// adds up what it wrote per type and adds that to the series once per
// write to its socket (see streamWriter.count), instead of looking a
// series up and incrementing it, a contended atomic, for every event.
var sentKinds = [...]wire.Kind{wire.KindStatus, wire.KindProgress, wire.KindComplete, wire.KindDeleted, wire.KindSynced}

var sentSeries = func() (s [len(sentKinds)]prometheus.Counter) {
	for i, k := range sentKinds {
		s[i] = eventsSent.WithLabelValues(string(k))
	}
	return s
}()

// sentSlot is kind's index in sentKinds, or -1.
func sentSlot(kind wire.Kind) int {
	for i, k := range sentKinds {
		if k == kind {
			return i
		}
	}
	return -1
}

func init() {
	metrics.Registry.MustRegister(openStreams, eventsSent, streamsClosed, requestsRefused, deliveryLag)
}
