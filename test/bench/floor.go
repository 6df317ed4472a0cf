package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// The floor is the cheapest SSE fan-out that still does the job: one
// client-go watch on Casts in kube-apiserver, and for each change one JSON
// frame written to every client of its namespace. One goroutine per client,
// one write per event; no auth, no resume, no coalescing, no snapshot. It
// runs as its own process (this binary re-executed with floorFlag) so its
// CPU is measured apart from the load generator's. The streamer does more
// per delivery than this; the saturation curve says how much more.
const floorFlag = "-floor-server"

// floorQueue is how many frames a floor client may have pending. A client
// that falls this far behind is disconnected (the reader counts a drop),
// so a step that overloads the floor fails loudly instead of queueing.
const floorQueue = 4096

// isFloorServer reports whether args ask for the floor server; main and
// TestMain check it first.
func isFloorServer(args []string) bool { return len(args) > 0 && args[0] == floorFlag }

// floorMain runs the floor server until SIGTERM (or its parent dies).
func floorMain(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster to watch")
	bind := fs.String("bind", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("reading kubeconfig: %w", err)
	}
	f := &floor{clients: map[string]map[*floorClient]bool{}}
	ctx := context.Background()
	rc, err := castREST(rest.CopyConfig(cfg))
	if err != nil {
		return err
	}
	go f.watch(ctx, rc)
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !f.ready.Load() {
			http.Error(w, "watch not started", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/ns/{ns}", f.serve)
	ln, err := net.Listen("tcp", *bind)
	if err != nil {
		return err
	}
	return (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}

// castREST makes a REST client for Casts from cfg, which it sets up (a
// copy the caller owns), without client-side rate limiting.
func castREST(cfg *rest.Config) (*rest.RESTClient, error) {
	cfg.QPS, cfg.Burst = -1, 0
	cfg.GroupVersion = &castv1alpha1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.ContentType = "application/json"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(localcluster.Scheme()).WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("REST client for casts: %w", err)
	}
	return rc, nil
}

type floor struct {
	mu      sync.RWMutex
	clients map[string]map[*floorClient]bool // by namespace
	ready   atomic.Bool
}

type floorClient struct {
	frames chan []byte
	gone   chan struct{}
	once   sync.Once
}

func (c *floorClient) drop() { c.once.Do(func() { close(c.gone) }) }

// watch follows every Cast change, re-watching from the last
// resourceVersion when kube-apiserver ends a watch.
func (f *floor) watch(ctx context.Context, rc *rest.RESTClient) {
	rv := "0"
	for ctx.Err() == nil {
		w, err := rc.Get().Resource("casts").Param("watch", "true").Param("resourceVersion", rv).
			Timeout(time.Hour).Watch(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor: watch failed:", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		f.ready.Store(true)
		for ev := range w.ResultChan() {
			cast, ok := ev.Object.(*castv1alpha1.Cast)
			if !ok {
				continue
			}
			rv = cast.ResourceVersion
			if ev.Type == watch.Modified {
				f.fanOut(cast)
			}
		}
	}
}

// floorEvent is the frame's data: what a screen needs of a change.
type floorEvent struct {
	CastID   string `json:"castId"`
	Phase    string `json:"phase,omitempty"`
	Message  string `json:"message"`
	Progress int32  `json:"progress"`
}

// fanOut encodes the change once and queues it for every client of its
// namespace.
func (f *floor) fanOut(c *castv1alpha1.Cast) {
	data, err := json.Marshal(floorEvent{CastID: c.Namespace + "/" + c.Name, Phase: string(c.Status.Phase),
		Message: c.Status.Message, Progress: c.Status.Progress})
	if err != nil {
		return
	}
	frame := make([]byte, 0, len(data)+24)
	frame = append(append(append(frame, "event: status\ndata: "...), data...), "\n\n"...)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for cl := range f.clients[c.Namespace] {
		select {
		case cl.frames <- frame:
		default:
			cl.drop()
		}
	}
}

func (f *floor) serve(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	fl, ok := w.(http.Flusher)
	if !ok || strings.Contains(ns, "/") {
		http.Error(w, "no streaming", http.StatusInternalServerError)
		return
	}
	cl := &floorClient{frames: make(chan []byte, floorQueue), gone: make(chan struct{})}
	f.mu.Lock()
	if f.clients[ns] == nil {
		f.clients[ns] = map[*floorClient]bool{}
	}
	f.clients[ns][cl] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.clients[ns], cl)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("event: synced\ndata: {}\n\n")); err != nil {
		return
	}
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-cl.gone:
			return
		case frame := <-cl.frames:
			if _, err := w.Write(frame); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// startFloor starts the floor server process against the bench's cluster.
func (b *bench) startFloor() (*child, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding the bench binary: %w", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	c, err := startChild(exe, filepath.Join(b.tmp, "floor.log"), nil, floorFlag, "-kubeconfig", b.cl.kubeconfig, "-bind", addr)
	if err != nil {
		return nil, "", err
	}
	if err := c.waitHTTP("http://"+addr+"/readyz", 60*time.Second); err != nil {
		c.stop()
		return nil, "", errors.Join(errors.New("the floor server did not start"), err)
	}
	return c, addr, nil
}

// floorStream is a floor client of namespace ns.
func floorStream(ns int) streamSpec {
	return streamSpec{path: "/ns/" + streamNS(ns), ns: ns}
}
