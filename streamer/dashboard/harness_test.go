package dashboard_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/dashboard"
)

// ---- the streamer, which the specs stop and start again ----

type streamerProc struct {
	url    *url.URL
	cancel context.CancelFunc
	done   chan error
}

// startStreamer runs a real streamer on a loopback port, ready to serve;
// tune changes its options (short intervals by default).
func startStreamer(tune ...func(*streamer.Options)) *streamerProc {
	GinkgoHelper()
	return serveStreamer(listenLoopback(), tune...)
}

// listenLoopback is a listener on a free loopback port, for a streamer
// whose options need its URL before it starts.
func listenLoopback() net.Listener {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	return ln
}

// serveStreamer is startStreamer on ln.
func serveStreamer(ln net.Listener, tune ...func(*streamer.Options)) *streamerProc {
	GinkgoHelper()
	opts := streamer.Options{Retry: 500 * time.Millisecond, HeartbeatInterval: time.Second}
	for _, t := range tune {
		t(&opts)
	}
	srv, err := streamer.New(opts, castCache, kube)
	if err != nil {
		_ = ln.Close()
	}
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(logf.IntoContext(context.Background(), logf.Log))
	p := &streamerProc{url: &url.URL{Scheme: "http", Host: ln.Addr().String()}, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- srv.Serve(ctx, ln) }()
	DeferCleanup(p.stop)
	Eventually(func() (int, error) {
		resp, err := http.Get(p.url.String() + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}).Should(Equal(http.StatusOK), "the streamer must become ready")
	return p
}

// stop ends the streamer as its manager would: open streams end, the
// listener closes. Safe to call twice.
func (p *streamerProc) stop() {
	GinkgoHelper()
	p.cancel()
	select {
	case err := <-p.done:
		Expect(err).NotTo(HaveOccurred())
		p.done <- nil
	case <-time.After(20 * time.Second):
		Fail("the streamer did not stop within 20s")
	}
}

// ---- one origin: the dashboard, and the streamer behind a reverse proxy ----

type frontServer struct {
	url    string
	target atomic.Pointer[url.URL]
	held   atomic.Pointer[chan struct{}]
	mu     sync.Mutex
	hits   map[string]int
	// refusals answer the next API reads in the proxy's stead.
	refusals int
	refusal  func(http.ResponseWriter)
	streams  map[*http.Request]context.CancelFunc
	// lastEventIDs are the Last-Event-ID headers of stream requests, by path.
	lastEventIDs map[string][]string
	// wire holds the events the streamer sent on streams, by path.
	wire map[string][]wireEvent
}

// startFront serves dashboard.Handler() and proxies the streamer's paths to
// backend, as one origin, the way the streamer will serve both itself.
func startFront(backend *streamerProc) *frontServer {
	GinkgoHelper()
	f := &frontServer{hits: map[string]int{}, lastEventIDs: map[string][]string{}, wire: map[string][]wireEvent{},
		streams: map[*http.Request]context.CancelFunc{}}
	f.target.Store(backend.url)
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(f.target.Load()) },
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "streamer unavailable: "+err.Error(), http.StatusBadGateway)
		},
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits[r.Method+" "+r.URL.Path]++
		stream := strings.HasSuffix(r.URL.Path, "/events")
		if stream {
			f.lastEventIDs[r.URL.Path] = append(f.lastEventIDs[r.URL.Path], r.Header.Get("Last-Event-ID"))
		}
		var refuse func(http.ResponseWriter)
		if f.refusals > 0 && r.Method == http.MethodGet && r.URL.Path != "/api/v1/session" {
			f.refusals--
			refuse = f.refusal
		}
		if stream {
			ctx, cancel := context.WithCancel(r.Context())
			r = r.WithContext(ctx)
			f.streams[r] = cancel
			defer func(r *http.Request) {
				f.mu.Lock()
				delete(f.streams, r)
				f.mu.Unlock()
				cancel()
			}(r)
		}
		f.mu.Unlock()
		if refuse != nil {
			// As the streamer would for the origin it allows: a page on
			// another origin must be able to read the refusal.
			if origin := r.Header.Get("Origin"); origin != "" {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
			}
			refuse(w)
			return
		}
		if held := f.held.Load(); held != nil {
			select {
			case <-*held:
			case <-r.Context().Done():
				return
			case <-time.After(30 * time.Second):
				http.Error(w, "held too long", http.StatusGatewayTimeout)
				return
			}
		}
		if stream {
			w = f.tap(r.URL.Path, w)
		}
		proxy.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/healthz", proxy)
	mux.Handle("/readyz", proxy)
	// The browser client the dashboard imports, from the streamer itself.
	mux.Handle("/js/", proxy)
	mux.Handle("/", dashboard.Handler())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	DeferCleanup(func() { _ = srv.Close() })
	f.url = "http://" + ln.Addr().String()
	return f
}

func (f *frontServer) pointAt(p *streamerProc) { f.target.Store(p.url) }

// hold makes API requests wait, as a load balancer does while no backend is
// ready, until release.
func (f *frontServer) hold() {
	ch := make(chan struct{})
	f.held.Store(&ch)
}

func (f *frontServer) release() {
	if held := f.held.Swap(nil); held != nil {
		close(*held)
	}
}

// refuse429 answers the next n API reads with the streamer's 429.
func (f *frontServer) refuse429(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refusals = n
	f.refusal = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "rate limit exceeded; retry in "+retryAfter+"s", http.StatusTooManyRequests)
	}
}

// dropStreams cuts every open stream, as a network blip would.
func (f *frontServer) dropStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, cancel := range f.streams {
		cancel()
	}
}

// streamResumes are the Last-Event-ID headers sent to a stream path.
func (f *frontServer) streamResumes(path string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lastEventIDs[path]...)
}

// requests counts the API requests for method and path so far.
func (f *frontServer) requests(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[method+" "+path]
}
