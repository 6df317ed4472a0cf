package streamer

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
)

// apiHealth remembers whether kube-apiserver answered its /readyz lately.
// Without it the streamer would call itself ready during an API server
// outage, while it can neither authenticate anyone nor see changes.
type apiHealth struct {
	kube    kubernetes.Interface
	every   time.Duration
	timeout time.Duration

	mu      sync.Mutex
	checked time.Time
	err     error
	// lastBad is when the API server last failed a check.
	lastBad time.Time
}

// warmUp is how long after an API server outage its refusals are not
// trusted: a restarted kube-apiserver answers SubjectAccessReviews "no"
// until RBAC has loaded, and the authorizer caches a denial for 10 s.
const warmUp = 12 * time.Second

// watch checks the API server every interval until ctx ends, so outages
// are noticed even when no probe asks.
func (h *apiHealth) watch(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		_ = h.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recheck bounds how often a refusal makes the streamer ask the API server
// whether it is ready.
const recheck = 250 * time.Millisecond

// unsettled reports whether the API server is not ready or was not within
// warmUp, when a 401 or 403 may be its warm-up talking rather than RBAC.
// A restart can be too short for the background check to see, so a
// refusal asks again (at most every recheck).
func (h *apiHealth) unsettled(ctx context.Context) bool {
	h.mu.Lock()
	stale := time.Since(h.checked) >= recheck
	h.mu.Unlock()
	if stale {
		h.checkNow(ctx)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err != nil || (!h.lastBad.IsZero() && time.Since(h.lastBad) < warmUp)
}

func newAPIHealth(kube kubernetes.Interface) *apiHealth {
	return &apiHealth{kube: kube, every: 2 * time.Second, timeout: 2 * time.Second}
}

// check asks the API server at most once per interval, however many
// probes arrive.
func (h *apiHealth) check(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) < h.every {
		return h.err
	}
	return h.ask(ctx)
}

func (h *apiHealth) checkNow(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_ = h.ask(ctx)
}

// ask queries /readyz; callers hold mu.
func (h *apiHealth) ask(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	_, h.err = h.kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	h.checked = time.Now()
	if h.err != nil {
		h.lastBad = h.checked
	}
	return h.err
}
