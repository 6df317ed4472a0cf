package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// The client is tested against the real streamer on a real kube-apiserver:
// real tokens, RBAC and Cast status updates, and streamers stopped and
// started again on the same port to force reconnects.
var (
	cluster   *kubetest.Cluster
	k8s       ctrlclient.Client
	kube      kubernetes.Interface
	castCache cache.Cache // what the streamers under test read Casts through
)

func TestClientSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	RunSpecs(t, "Streamer Client Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	cluster, err = kubetest.Start(kubetest.WithCache())
	Expect(err).NotTo(HaveOccurred())
	k8s, kube, castCache = cluster.Client, cluster.Kube, cluster.Cache
})

var _ = AfterSuite(func() {
	// The cache's watch ends first, then the control plane; nil-safe if
	// BeforeSuite failed early.
	Expect(cluster.Stop()).To(Succeed())
})

// runningStreamer is a real streamer on a loopback port.
type runningStreamer struct {
	addr, url string
	stop      func()
}

// startStreamerAt serves a streamer on addr ("127.0.0.1:0" for any port)
// until stopped or the spec ends, and returns once it is ready.
func startStreamerAt(addr string, opts streamer.Options) *runningStreamer {
	GinkgoHelper()
	opts.HeartbeatInterval = max(opts.HeartbeatInterval, 200*time.Millisecond)
	opts.Retry = 500 * time.Millisecond
	opts.UserRate, opts.IPRate = 100, 100 // tests reconnect a lot
	srv, err := streamer.New(opts, castCache, kube)
	Expect(err).NotTo(HaveOccurred())
	var ln net.Listener
	Eventually(func() (err error) { ln, err = net.Listen("tcp", addr); return err }).Should(Succeed())
	ctx, cancel := context.WithCancel(logf.IntoContext(context.Background(), logf.Log))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	rs := &runningStreamer{addr: ln.Addr().String(), url: "http://" + ln.Addr().String()}
	rs.stop = func() {
		once.Do(func() {
			cancel()
			Eventually(done).Should(Receive(BeNil()))
		})
	}
	DeferCleanup(rs.stop)
	Eventually(func() int {
		resp, err := http.Get(rs.url + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}).Should(Equal(http.StatusOK))
	return rs
}

// restart stops the streamer and starts a new one on the same port.
func (rs *runningStreamer) restart(opts streamer.Options) *runningStreamer {
	GinkgoHelper()
	rs.stop()
	return startStreamerAt(rs.addr, opts)
}

var nsCounter int

func newNamespace() string {
	GinkgoHelper()
	nsCounter++
	ns := fmt.Sprintf("client-%d-%d", GinkgoParallelProcess(), nsCounter)
	Expect(k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	return ns
}

// readerToken returns a real one-hour token for ServiceAccount ns/sa,
// allowed to get, list and watch Casts in ns when allowed is true; a
// stranger's token (allowed false) authenticates but may read nothing.
func readerToken(ns, sa string, allowed bool) string {
	GinkgoHelper()
	ctx := context.Background()
	var token string
	var err error
	if allowed {
		token, err = kubetest.Viewer(ctx, kube, ns, sa)
	} else {
		token, err = kubetest.Token(ctx, kube, ns, sa, time.Hour)
	}
	Expect(err).NotTo(HaveOccurred())
	return token
}

func createCast(ns, name string) *castv1alpha1.Cast {
	GinkgoHelper()
	c := &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml"},
	}
	Expect(k8s.Create(context.Background(), c)).To(Succeed())
	Expect(updateStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhasePending })).To(Succeed())
	return c
}

// updateStatus writes status through the subresource as the controller
// does, retrying on conflicts; safe from any goroutine.
func updateStatus(c *castv1alpha1.Cast, mutate func(*castv1alpha1.CastStatus)) error {
	_, err := kubetest.SetStatus(context.Background(), k8s, ctrlclient.ObjectKeyFromObject(c), mutate)
	return err
}

// recorder is an http.RoundTripper that keeps every request's headers and
// a copy of every response body, so specs can assert what the streamer
// itself sent, before the client's filtering.
type recorder struct {
	mu      sync.Mutex
	paths   []string
	queries []string
	lastID  []string
	bodies  []*kubetest.Buffer
	ok      []bool // answered 200
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.Path)
	r.queries = append(r.queries, req.URL.RawQuery)
	r.lastID = append(r.lastID, req.Header.Get("Last-Event-ID"))
	buf := &kubetest.Buffer{}
	r.bodies = append(r.bodies, buf)
	r.ok = append(r.ok, false)
	i := len(r.ok) - 1
	r.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.ok[i] = resp.StatusCode == http.StatusOK
		r.mu.Unlock()
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, buf), resp.Body}
	}
	return resp, err
}

func (r *recorder) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.paths)
}

func (r *recorder) allPaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

// streamQueries returns the query each stream request sent.
func (r *recorder) streamQueries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, p := range r.paths {
		if strings.HasSuffix(p, "/events") {
			out = append(out, r.queries[i])
		}
	}
	return out
}

// streamLastIDs returns the Last-Event-ID each stream request sent.
func (r *recorder) streamLastIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, p := range r.paths {
		if strings.HasSuffix(p, "/events") {
			out = append(out, r.lastID[i])
		}
	}
	return out
}

// streams returns what each event stream the streamer accepted carried so
// far, oldest first.
func (r *recorder) streams() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, p := range r.paths {
		if r.ok[i] && strings.HasSuffix(p, "/events") {
			out = append(out, r.bodies[i].String())
		}
	}
	return out
}

// collector reads a subscription to the end in the background.
type collector struct {
	sub    *Subscription
	mu     sync.Mutex
	events []Event
	closed chan struct{}
}

func collect(sub *Subscription) *collector {
	c := &collector{sub: sub, closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for ev := range sub.Events() {
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) all() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// of returns the events about one Cast, in delivery order.
func (c *collector) of(name string) []Event {
	var out []Event
	for _, ev := range c.all() {
		if ev.Type != "synced" && ev.Cast.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// last is the latest event about one Cast, zero if none.
func (c *collector) last(name string) Event {
	evs := c.of(name)
	if len(evs) == 0 {
		return Event{}
	}
	return evs[len(evs)-1]
}

func (c *collector) synced() int {
	n := 0
	for _, ev := range c.all() {
		if ev.Type == "synced" {
			n++
		}
	}
	return n
}

// subscribe starts a subscription that reconnects quickly.
func subscribe(url, token string, scope Scope, rt http.RoundTripper) (*collector, context.CancelFunc) {
	GinkgoHelper()
	hc := &http.Client{}
	if rt != nil {
		hc.Transport = rt
	}
	c, err := New(Options{Server: url, Token: token, HTTPClient: hc,
		InitialBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, HeartbeatTimeout: 2 * time.Second})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	sub, err := c.Subscribe(ctx, scope)
	Expect(err).NotTo(HaveOccurred())
	return collect(sub), cancel
}
