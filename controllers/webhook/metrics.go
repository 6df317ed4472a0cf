package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Results of a webhook request, the result label of receivedTotal. Each
// request gets exactly one.
const (
	resultAccepted     = "accepted"     // stored in at least one Cast
	resultIgnored      = "ignored"      // ping, other event type or action
	resultUnmatched    = "unmatched"    // no Cast tracks the run
	resultDuplicate    = "duplicate"    // delivery ID already handled
	resultInvalid      = "invalid"      // bad method, content type or payload
	resultUnauthorized = "unauthorized" // missing or wrong signature
	resultTooLarge     = "too_large"    // body over MaxBodyBytes
	resultError        = "error"        // index failed; GitHub may redeliver
)

var results = []string{
	resultAccepted, resultIgnored, resultUnmatched, resultDuplicate,
	resultInvalid, resultUnauthorized, resultTooLarge, resultError,
}

// eventOther stands for every event type the receiver does not act on. The
// event label must not copy the header verbatim: requests are counted before
// they are authenticated, and a free-form label would let anyone create
// unbounded series.
const eventOther = "other"

var events = []string{EventPing, EventWorkflowRun, EventWorkflowJob, eventOther}

// receivedTotal is on controller-runtime's registry so the manager's metrics
// endpoint serves it alongside the controller's own metrics.
var receivedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "cast_operator_webhooks_received_total",
	Help: "GitHub webhook requests received, by event type and result.",
}, []string{"event", "result"})

func init() {
	metrics.Registry.MustRegister(receivedTotal)
	// Create every series at zero so rate() and alerts work before the
	// first request of a kind arrives.
	for _, e := range events {
		for _, r := range results {
			receivedTotal.WithLabelValues(e, r)
		}
	}
}

func eventLabel(eventType string) string {
	switch eventType {
	case EventPing, EventWorkflowRun, EventWorkflowJob:
		return eventType
	}
	return eventOther
}
