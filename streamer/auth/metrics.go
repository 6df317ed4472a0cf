package auth

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	webhookmetrics "k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label values, fixed so dashboards and alerts can rely on them.
const (
	stageAuthn = "authn"
	stageAuthz = "authz"

	resultAllowed = "allowed"
	resultDenied  = "denied"
	resultError   = "error"

	kindTokenReview         = "tokenreview"
	kindSubjectAccessReview = "subjectaccessreview"
)

var (
	// decisionsTotal shows at a glance whether callers are being turned
	// away (denied) or the API server is failing us (error). Labels carry no
	// user names so cardinality stays fixed.
	decisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_streamer_auth_decisions_total",
		Help: "Authentication (stage=authn) and authorization (stage=authz) outcomes of streamer requests: allowed, denied, or error when the API server could not be asked.",
	}, []string{"stage", "result"})

	// apiCallsTotal counts the review requests really sent to the API
	// server, retries included, so the caches' effect can be measured:
	// compare it with decisionsTotal.
	apiCallsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cast_streamer_auth_api_calls_total",
		Help: "TokenReview and SubjectAccessReview requests sent to the API server (cache misses and retries), by kind.",
	}, []string{"kind"})
)

func init() {
	metrics.Registry.MustRegister(decisionsTotal, apiCallsTotal)
	// Export every series at zero so rates work from the first scrape.
	for _, stage := range []string{stageAuthn, stageAuthz} {
		for _, result := range []string{resultAllowed, resultDenied, resultError} {
			decisionsTotal.WithLabelValues(stage, result)
		}
	}
	apiCallsTotal.WithLabelValues(kindTokenReview)
	apiCallsTotal.WithLabelValues(kindSubjectAccessReview)
}

func recordDecision(stage, result string) {
	decisionsTotal.WithLabelValues(stage, result).Inc()
}

// The apiserver webhook clients call RecordRequestTotal once per HTTP
// attempt they make (with the status code, or "<error>" when no response
// came), after their caches missed. Counting there sees exactly the calls
// the API server receives, whatever clientset the caller built, because
// those clients use the clientset's RESTClient directly and a wrapped
// typed interface would never be called.

// callRecord remembers the status code of the last review attempt made
// for one lookup, so the authenticator can tell "the API server said no"
// from "the API server could not be asked".
type callRecord struct {
	mu       sync.Mutex
	lastCode string
}

func (c *callRecord) set(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastCode = code
}

func (c *callRecord) code() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastCode
}

type callRecordKey struct{}

func withCallRecord(ctx context.Context, rec *callRecord) context.Context {
	return context.WithValue(ctx, callRecordKey{}, rec)
}

// tokenReviewCalls is the authenticator webhook's metrics hook.
func tokenReviewCalls(ctx context.Context, code string) {
	apiCallsTotal.WithLabelValues(kindTokenReview).Inc()
	if rec, ok := ctx.Value(callRecordKey{}).(*callRecord); ok {
		rec.set(code)
	}
}

func ignoreLatency(context.Context, string, float64) {}

// sarMetrics is the authorizer webhook's metrics hook; only the request
// count matters to us, the rest are the library's no-ops.
type sarMetrics struct {
	webhookmetrics.NoopAuthorizerMetrics
}

var _ webhookmetrics.AuthorizerMetrics = sarMetrics{}

func (sarMetrics) RecordRequestTotal(context.Context, string) {
	apiCallsTotal.WithLabelValues(kindSubjectAccessReview).Inc()
}
