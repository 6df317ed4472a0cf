package ghapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/google/go-github/v89/github"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// requestsTotal counts calls per operation and status code, so a spike
	// of 403s or 5xx from GitHub shows up without reading logs. Labels
	// carry no repository or run ID to keep cardinality fixed.
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_operator_github_api_requests_total",
		Help: "Requests sent to GitHub's REST API, by operation and HTTP status code (\"error\" when no response arrived).",
	}, []string{"operation", "code"})

	// rateLimitRemaining lets alerts fire before the operator's token runs
	// dry and every Cast stalls.
	rateLimitRemaining = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cast_operator_github_rate_limit_remaining",
		Help: "X-RateLimit-Remaining from the latest GitHub API response, whichever token it used.",
	})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, rateLimitRemaining)
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
		if v, perr := strconv.Atoi(resp.Header.Get(github.HeaderRateRemaining)); perr == nil {
			rateLimitRemaining.Set(float64(v))
		}
	}
	requestsTotal.WithLabelValues(op, code).Inc()
	return resp, err
}
