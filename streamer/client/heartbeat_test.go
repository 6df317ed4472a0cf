package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"
)

// silentServer speaks the streamer's protocol just far enough: headers, one
// event, then either nothing at all or heartbeat comments every beat.
type silentServer struct {
	*httptest.Server
	reqs   counter
	mu     sync.Mutex
	lastID []string // Last-Event-ID of each request
}

func newSilentServer(t *testing.T, beat time.Duration) *silentServer {
	s := &silentServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reqs.n.Add(1)
		s.mu.Lock()
		s.lastID = append(s.lastID, r.Header.Get("Last-Event-ID"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("retry: 500\n\nid: 7\nevent: synced\ndata: {}\n\n"))
		w.(http.Flusher).Flush()
		var tick <-chan time.Time
		if beat > 0 {
			tk := time.NewTicker(beat)
			defer tk.Stop()
			tick = tk.C
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick:
				_, _ = w.Write([]byte(": heartbeat\n\n"))
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *silentServer) lastIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lastID...)
}

func TestHeartbeatTimeoutReconnects(t *testing.T) {
	g := NewWithT(t)
	srv := newSilentServer(t, 0)
	fc := clocktesting.NewFakeClock(time.Now())
	var mu sync.Mutex
	var why []error
	c, err := New(Options{Server: srv.URL, Token: "t", HeartbeatTimeout: 200 * time.Millisecond, Clock: fc,
		Rand: func() float64 { return 0.5 }, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnRetry: func(err error, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			why = append(why, err)
		}})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.Subscribe(ctx, Scope{Namespace: "ns"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(sub.Events()).Should(Receive())

	// The silent server sends nothing more: the watchdog fires after
	// exactly the timeout, then the client backs off and resumes.
	retries := func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), why...)
	}
	g.Eventually(fc.HasWaiters).Should(BeTrue(), "the watchdog should be armed")
	fc.Step(199 * time.Millisecond)
	g.Consistently(retries, 100*time.Millisecond, 10*time.Millisecond).Should(BeEmpty(), "gave up before the timeout")
	fc.Step(time.Millisecond)
	g.Eventually(retries).ShouldNot(BeEmpty(), "the watchdog did not fire at the timeout")
	g.Expect(errors.Is(retries()[0], errHeartbeat)).To(BeTrue(), "reported: %v", retries()[0])
	stepAndExpect(g, fc, &srv.reqs, 5*time.Millisecond) // full jitter: half of 10 ms
	g.Expect(srv.lastIDs()[1]).To(Equal("7"), "the reconnect resumes from the last id")
}

func TestHeartbeatsKeepTheConnection(t *testing.T) {
	g := NewWithT(t)
	srv := newSilentServer(t, 50*time.Millisecond)
	c, err := New(Options{Server: srv.URL, Token: "t", HeartbeatTimeout: 200 * time.Millisecond,
		InitialBackoff: 10 * time.Millisecond})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.Subscribe(ctx, Scope{Namespace: "ns"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(sub.Events()).Should(Receive())
	g.Consistently(srv.reqs.get, time.Second).Should(Equal(1), "comments are proof of life")
}

func TestSlowConsumerIsNotSilence(t *testing.T) {
	g := NewWithT(t)
	srv := newSilentServer(t, 0)
	fc := clocktesting.NewFakeClock(time.Now())
	c, err := New(Options{Server: srv.URL, Token: "t", HeartbeatTimeout: 200 * time.Millisecond, Clock: fc})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.Subscribe(ctx, Scope{Namespace: "ns"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(srv.reqs.get).Should(Equal(1))
	// Nobody takes the event while ten timeouts pass: the watchdog is not
	// armed while the client waits on its consumer, so nothing fires.
	for range 10 {
		fc.Step(200 * time.Millisecond)
		g.Consistently(srv.reqs.get, 20*time.Millisecond, 5*time.Millisecond).Should(Equal(1))
	}
	g.Eventually(sub.Events()).Should(Receive())
	// Once the consumer took it, the client reads again and the watchdog is armed.
	g.Eventually(fc.HasWaiters).Should(BeTrue())
}

func TestSubscribeRejectsBadScopes(t *testing.T) {
	c, err := New(Options{Server: "http://127.0.0.1:1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []Scope{{Name: "x"}, {Namespace: "a/b"}, {Namespace: "ns", Name: ".."}} {
		if _, err := c.Subscribe(context.Background(), sc); err == nil {
			t.Errorf("Subscribe(%+v) accepted a scope no server can serve", sc)
		}
	}
	for _, o := range []Options{{Server: "127.0.0.1:8090", Token: "t"}, {Server: "ftp://x", Token: "t"}, {Server: "http://x"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
		}
	}
}
