package streamer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestAPIHealthFollowsTheAPIServerAndCachesItsAnswer(t *testing.T) {
	var up atomic.Bool
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/readyz" || !up.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer api.Close()
	kube, err := kubernetes.NewForConfig(&rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := newAPIHealth(kube)
	h.every = 50 * time.Millisecond
	ctx := context.Background()

	if h.check(ctx) == nil {
		t.Fatal("ready while the API server is not")
	}
	for range 10 {
		_ = h.check(ctx)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d API server calls for 11 probes within the interval, want 1", n)
	}
	up.Store(true)
	time.Sleep(60 * time.Millisecond)
	if err := h.check(ctx); err != nil {
		t.Errorf("not ready after the API server recovered: %v", err)
	}
}
