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
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	_, h.err = h.kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	h.checked = time.Now()
	return h.err
}
