package streamer

import (
	"context"
	"errors"
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

// In a partition a check hangs until its timeout: probes must get the last
// answer meanwhile, at once.
func TestAPIHealthProbesNeverWaitForAHungCheck(t *testing.T) {
	api, kube := newFakeAPIServer(t)
	api.up.Store(true)
	h := newAPIHealth(kube)
	h.timeout = time.Hour
	<-h.refresh()
	release := make(chan struct{})
	api.setHang(release)
	running := h.refresh()

	answered := make(chan error, 1)
	go func() { answered <- h.ready() }()
	select {
	case err := <-answered:
		if err != nil {
			t.Errorf("while a check hangs, ready = %v, want the last answer (ready)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/readyz waited for a check that hangs")
	}
	api.up.Store(false)
	close(release)
	<-running
	if h.ready() == nil {
		t.Error("still ready after the hung check ended with a refusal")
	}
}

// The check's timeout is what turns a partition into "not ready".
func TestAPIHealthTimesOutASilentAPIServer(t *testing.T) {
	api, kube := newFakeAPIServer(t)
	api.up.Store(true)
	h := newAPIHealth(kube)
	<-h.refresh()
	release := make(chan struct{})
	defer close(release)
	api.setHang(release)
	h.timeout = 50 * time.Millisecond
	<-h.refresh()
	if err := h.ready(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ready = %v after the API server went silent, want the check's deadline", err)
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
