package streamer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// fakeAPIServer answers /readyz as a kube-apiserver would: 200 when up,
// 503 when not, and not at all while hung.
type fakeAPIServer struct {
	*httptest.Server
	up    atomic.Bool
	calls atomic.Int32
	hang  chan struct{} // when non-nil, requests wait until it is closed
	mu    sync.Mutex
}

func newFakeAPIServer(t *testing.T) (*fakeAPIServer, kubernetes.Interface) {
	t.Helper()
	f := &fakeAPIServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.mu.Lock()
		hang := f.hang
		f.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
				return
			}
		}
		if r.URL.Path != "/readyz" || !f.up.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(f.Close)
	kube, err := kubernetes.NewForConfig(&rest.Config{Host: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	return f, kube
}

func (f *fakeAPIServer) setHang(hang chan struct{}) {
	f.mu.Lock()
	f.hang = hang
	f.mu.Unlock()
}

func TestAPIHealthFollowsTheAPIServer(t *testing.T) {
	api, kube := newFakeAPIServer(t)
	h := newAPIHealth(kube)
	if h.ready() == nil {
		t.Fatal("ready before the API server was ever asked")
	}
	<-h.refresh()
	if h.ready() == nil {
		t.Fatal("ready while the API server is not")
	}
	api.up.Store(true)
	<-h.refresh()
	if err := h.ready(); err != nil {
		t.Errorf("not ready after the API server recovered: %v", err)
	}
}

func TestAPIHealthRunsOneCheckAtATime(t *testing.T) {
	api, kube := newFakeAPIServer(t)
	api.up.Store(true)
	release := make(chan struct{})
	api.setHang(release)
	h := newAPIHealth(kube)
	var waits []<-chan struct{}
	for range 10 {
		waits = append(waits, h.refresh())
	}
	close(release)
	for _, w := range waits {
		<-w
	}
	if n := api.calls.Load(); n != 1 {
		t.Errorf("%d API server calls for 10 refreshes during one check, want 1", n)
	}
}

// In a partition the check hangs until its timeout; probes must get an
// answer meanwhile, and the answer must turn to "not ready" once the last
// answer is too old.
func TestAPIHealthProbesNeverWaitForAHungCheck(t *testing.T) {
	api, kube := newFakeAPIServer(t)
	api.up.Store(true)
	h := newAPIHealth(kube)
	h.every, h.timeout = 50*time.Millisecond, time.Hour
	<-h.refresh()
	if err := h.ready(); err != nil {
		t.Fatalf("not ready with the API server up: %v", err)
	}
	release := make(chan struct{})
	defer close(release)
	api.setHang(release)
	h.every, h.timeout = 50*time.Millisecond, 50*time.Millisecond
	h.refresh() // hangs: the server never answers while the partition lasts

	answered := make(chan error, 1)
	go func() { answered <- h.ready() }()
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("/readyz waited for a check that hangs")
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.ready() == nil {
		if time.Now().After(deadline) {
			t.Fatal("still ready long after the API server stopped answering")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAPIHealthUnsettledAsksAgainAfterARefusal(t *testing.T) {
	api, kube := newFakeAPIServer(t)
	api.up.Store(true)
	h := newAPIHealth(kube)
	if h.unsettled(context.Background()) {
		t.Fatal("unsettled with a healthy API server that never failed")
	}
	api.up.Store(false)
	time.Sleep(recheck)
	if !h.unsettled(context.Background()) {
		t.Fatal("settled while the API server refuses /readyz")
	}
	api.up.Store(true)
	time.Sleep(recheck)
	if !h.unsettled(context.Background()) {
		t.Error("settled right after an outage: refusals during warm-up would be trusted")
	}
}
