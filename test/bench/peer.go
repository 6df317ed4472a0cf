package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// watchFleet is the peer design: every client holds its own client-go
// watch on Casts straight to kube-apiserver, authenticated with its own
// ServiceAccount token. By default each watch also has its own TLS
// connection, as independent clients (browsers, CLIs) would. client-go
// speaks HTTP/2, and when clients share a transport (mux) their watches
// are HTTP/2 streams multiplexed over a few connections (up to the
// server's concurrent-stream limit each), which saves kube-apiserver
// connections and write calls; connCount reports how many there were.
type watchFleet struct {
	mux      bool
	cur      atomic.Pointer[phase]
	clients  map[string]*rest.RESTClient // with mux, one REST client per token
	all      []*rest.RESTClient
	mu       sync.Mutex
	cancels  []context.CancelFunc
	wg       sync.WaitGroup
	started  atomic.Int64
	failures atomic.Int64
	ended    atomic.Int64
}

func newWatchFleet(mux bool) *watchFleet {
	return &watchFleet{mux: mux, clients: map[string]*rest.RESTClient{}}
}

func (f *watchFleet) restFor(base *rest.Config, token string) (*rest.RESTClient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rc, ok := f.clients[token]; ok && f.mux {
		return rc, nil
	}
	cfg := rest.AnonymousClientConfig(base)
	if !f.mux {
		// A Proxy func makes client-go skip its shared-transport cache, so
		// this client gets a transport, and a connection, of its own.
		cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	}
	cfg.BearerToken = token
	rc, err := castREST(cfg)
	if err != nil {
		return nil, err
	}
	f.clients[token] = rc
	f.all = append(f.all, rc)
	return rc, nil
}

// open starts one watch per spec (namespace and token), width at a time,
// and returns once every watch is established.
func (f *watchFleet) open(ctx context.Context, base *rest.Config, specs []streamSpec, width int) (time.Duration, error) {
	start := time.Now()
	err := parallel(ctx, len(specs), width, func(i int) error {
		rc, err := f.restFor(base, specs[i].token)
		if err != nil {
			return err
		}
		return f.open1(ctx, rc, specs[i].ns)
	})
	return time.Since(start), err
}

func (f *watchFleet) open1(ctx context.Context, rc rest.Interface, ns int) error {
	wctx, cancel := context.WithCancel(ctx)
	var (
		w   watch.Interface
		err error
	)
	for attempt := 0; attempt < 10; attempt++ {
		w, err = rc.Get().Namespace(streamNS(ns)).Resource("casts").
			Param("watch", "true").Param("resourceVersion", "0").Param("allowWatchBookmarks", "false").
			Timeout(time.Hour).Watch(wctx)
		if err == nil {
			break
		}
		f.failures.Add(1)
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		cancel()
		return fmt.Errorf("watching casts in %s: %w", streamNS(ns), err)
	}
	f.mu.Lock()
	f.cancels = append(f.cancels, cancel)
	f.mu.Unlock()
	f.started.Add(1)
	f.wg.Go(func() {
		defer w.Stop()
		var s seen
		for ev := range w.ResultChan() {
			now := time.Now()
			if ev.Type != watch.Modified {
				continue
			}
			if cast, ok := ev.Object.(*castv1alpha1.Cast); ok {
				if ph := f.cur.Load(); ph != nil {
					ph.observe(&s, cast.Status.Message, now)
				}
			}
		}
		if wctx.Err() == nil {
			f.ended.Add(1)
		}
	})
	return nil
}

// closeAll ends every watch and closes the connections, so thousands of
// idle TLS connections do not linger into the next scenario.
func (f *watchFleet) closeAll() {
	f.mu.Lock()
	cancels, clients := f.cancels, f.all
	f.cancels, f.all = nil, nil
	f.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	f.wg.Wait()
	for _, rc := range clients {
		if rc.Client != nil {
			utilnet.CloseIdleConnectionsFor(rc.Client.Transport) // through client-go's wrappers
		}
	}
}

// connCount counts this process's established TCP connections to the
// host:port of serverURL, by matching our socket inodes with /proc/net/tcp.
func connCount(serverURL string) int {
	u, err := url.Parse(serverURL)
	if err != nil {
		return -1
	}
	port, _ := strconv.Atoi(u.Port())
	mine := map[string]bool{}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, file := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "01" || !mine[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[2], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
				n++
			}
		}
	}
	return n
}
