package controllers

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// WebhookActivity remembers when each repository's webhook last delivered.
// While deliveries arrive, a repository's Casts need only a slow
// safety-net resync; when they stop, its Casts fall back to the fast
// cadence, because a broken webhook looks exactly like a quiet run.
type WebhookActivity struct {
	// QuietAfter is how long without a delivery makes a repository's
	// webhook count as stopped.
	QuietAfter time.Duration
	Clock      clock.PassiveClock

	mu    sync.Mutex
	repos map[string]*repoActivity
}

type repoActivity struct {
	last  time.Time
	quiet bool
}

// maxTrackedRepos bounds the memory of repositories; past it the oldest
// half is forgotten (they fall back to the fast cadence, the safe side).
const maxTrackedRepos = 10000

var quietRepos = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "cast_operator_webhook_quiet_repositories",
	Help: "Repositories whose webhook delivered before but stopped while their Casts ran; their Casts resync at the fallback cadence.",
})

func init() { metrics.Registry.MustRegister(quietRepos) }

// NewWebhookActivity returns an empty memory.
func NewWebhookActivity(quietAfter time.Duration) *WebhookActivity {
	return &WebhookActivity{QuietAfter: quietAfter, Clock: clock.RealClock{}, repos: map[string]*repoActivity{}}
}

// Heard records a verified delivery for repository.
func (a *WebhookActivity) Heard(repository string) {
	key := strings.ToLower(repository)
	now := a.Clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	ra, ok := a.repos[key]
	if !ok {
		if len(a.repos) >= maxTrackedRepos {
			a.forgetOldestLocked()
		}
		ra = &repoActivity{}
		a.repos[key] = ra
	}
	if ra.quiet {
		ra.quiet = false
		quietRepos.Dec()
		logf.Log.WithName("webhook-activity").Info("webhook deliveries resumed; back to the safety-net resync", "repository", repository)
	}
	ra.last = now
}

// Flowing reports whether repository's webhook delivered within
// QuietAfter. The first time a repository that had deliveries is found
// quiet, it says so once in the log and in the quiet-repositories gauge.
func (a *WebhookActivity) Flowing(repository string) bool {
	if a == nil {
		return false
	}
	now := a.Clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	ra, ok := a.repos[strings.ToLower(repository)]
	if !ok {
		return false
	}
	if now.Sub(ra.last) < a.QuietAfter {
		return true
	}
	if !ra.quiet {
		ra.quiet = true
		quietRepos.Inc()
		logf.Log.WithName("webhook-activity").Info("no webhook deliveries while Casts run; resyncing at the fallback cadence",
			"repository", repository, "lastDelivery", ra.last.UTC().Format(time.RFC3339), "quietAfter", a.QuietAfter)
	}
	return false
}

func (a *WebhookActivity) forgetOldestLocked() {
	times := make([]time.Time, 0, len(a.repos))
	for _, ra := range a.repos {
		times = append(times, ra.last)
	}
	slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
	cutoff := times[len(times)/2]
	for k, ra := range a.repos {
		if !ra.last.After(cutoff) {
			if ra.quiet {
				quietRepos.Dec()
			}
			delete(a.repos, k)
		}
	}
}
