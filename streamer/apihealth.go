package streamer

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
)

// apiHealth remembers whether kube-apiserver answered its /readyz lately.
// Without it the streamer would call itself ready during an API server
// outage, while it can neither authenticate anyone nor see changes. One
// check runs at a time and nobody waits on a lock while it does: in a
// network partition a check hangs until its timeout, and probes must still
// get their answer at once.
type apiHealth struct {
	kube    kubernetes.Interface
	every   time.Duration
	timeout time.Duration

	mu      sync.Mutex
	checked time.Time // when the last check ended
	err     error
	// lastBad is when the API server last failed a check.
	lastBad time.Time
	// inflight is closed when the running check ends; nil when none runs.
	inflight chan struct{}
}

// errNoAnswer: no check has ended yet. A check that hangs, as in a
// partition, ends with its timeout's error, so ready never waits for one.
var errNoAnswer = errors.New("kube-apiserver not checked yet")

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
		select {
		case <-h.refresh():
		case <-ctx.Done():
			return
		}
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
// refusal asks again (at most every recheck) and waits for the answer.
func (h *apiHealth) unsettled(ctx context.Context) bool {
	h.mu.Lock()
	stale := time.Since(h.checked) >= recheck
	h.mu.Unlock()
	if stale {
		select {
		case <-h.refresh():
		case <-ctx.Done():
			return true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err != nil || (!h.lastBad.IsZero() && time.Since(h.lastBad) < warmUp)
}

func newAPIHealth(kube kubernetes.Interface) *apiHealth {
	return &apiHealth{kube: kube, every: 2 * time.Second, timeout: 2 * time.Second}
}

// ready answers from the last check that ended, never waiting for one.
func (h *apiHealth) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.checked.IsZero() {
		return errNoAnswer
	}
	return h.err
}

// refresh starts a check unless one is running and returns a channel that
// is closed when the running check ends. The check outlives any request
// that asked for it, bounded by the timeout.
func (h *apiHealth) refresh() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inflight != nil {
		return h.inflight
	}
	done := make(chan struct{})
	h.inflight = done
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
		defer cancel()
		_, err := h.kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.err, h.checked, h.inflight = err, time.Now(), nil
		if err != nil {
			h.lastBad = h.checked
		}
	}()
	return done
}
