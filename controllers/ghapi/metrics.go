package ghapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// requestsTotal counts calls per operation and status code, so a spike
	// of 403s or 5xx from GitHub shows up without reading logs. Labels
	// carry no repository or run ID to keep cardinality fixed.
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_operator_github_api_requests_total",
		Help: "Requests sent to GitHub's REST API, by operation and HTTP status code (304: unchanged, free of the primary limit; \"error\" when no response arrived).",
	}, []string{"operation", "code"})

	// rateLimitRemaining lets alerts fire before a credential runs dry. The
	// label names the credential without revealing it: a token's hash
	// prefix, or an App's and installation's IDs.
	rateLimitRemaining = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cast_operator_github_rate_limit_remaining",
		Help: "Primary rate-limit calls left for each GitHub credential, as GitHub last reported.",
	}, []string{"credential"})

	// budgetDelays counts calls the operator held back itself to stay
	// inside GitHub's limits, by why: held (GitHub asked to wait), reserve,
	// spread (resyncs stretched to the reset) and paced (dispatch slots).
	budgetDelays = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_operator_github_budget_delays_total",
		Help: "GitHub calls postponed by the operator's own budget, by credential and reason.",
	}, []string{"credential", "reason"})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, rateLimitRemaining, budgetDelays)
}

type operationKey struct{}

// withOperation names the call for the requests metric; the name travels in
// the request context because the transport only sees URLs.
func withOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// instrumentedTransport records every HTTP exchange, including retries and
// failures that never reach go-github's error handling.
type instrumentedTransport struct {
	base http.RoundTripper
}

func (t instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	op, _ := req.Context().Value(operationKey{}).(string)
	if op == "" {
		op = "other"
	}
	resp, err := t.base.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	requestsTotal.WithLabelValues(op, code).Inc()
	return resp, err
}
