package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestBackoff(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name             string
		attempt          int
		initial, maxWait time.Duration
		rnd              float64
		want             time.Duration
	}{
		{"first retry, half jitter", 0, s, 30 * s, 0.5, 500 * time.Millisecond},
		{"doubles per attempt", 1, s, 30 * s, 0.5, s},
		{"fourth retry", 4, s, 30 * s, 0.5, 8 * s},
		{"capped at max", 5, s, 30 * s, 0.5, 15 * s},
		{"capped far out", 100, s, 30 * s, 0.999, 29970 * time.Millisecond},
		{"no overflow for huge attempts", 1 << 20, time.Hour, 2 * time.Hour, 1, 2 * time.Hour},
		{"full jitter reaches zero", 3, s, 30 * s, 0, 0},
		{"rnd at or above 1 is the ceiling", 2, s, 30 * s, 1.5, 4 * s},
		{"negative rnd is zero", 2, s, 30 * s, -0.2, 0},
		{"initial above max", 0, 10 * s, 5 * s, 1, 5 * s},
		{"no initial, no wait", 3, 0, 30 * s, 0.7, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.attempt, tt.initial, tt.maxWait, tt.rnd); got != tt.want {
				t.Errorf("backoff(%d, %v, %v, %v) = %v, want %v", tt.attempt, tt.initial, tt.maxWait, tt.rnd, got, tt.want)
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q = %v, want %v", v, got, want)
		}
	}
}

// counter counts requests to a test server.
type counter struct{ n atomic.Int32 }

func (c *counter) get() int { return int(c.n.Load()) }

// stepAndExpect advances fc to just before wait and checks that no new
// request was made, then to wait and checks that one was.
func stepAndExpect(g *WithT, fc *clocktesting.FakeClock, reqs *counter, wait time.Duration) {
	n := reqs.get()
	g.Eventually(fc.HasWaiters).Should(BeTrue(), "the client should be waiting")
	fc.Step(wait - time.Millisecond)
	g.Consistently(reqs.get, 100*time.Millisecond, 10*time.Millisecond).Should(Equal(n), "reconnected before %v", wait)
	fc.Step(time.Millisecond)
	g.Eventually(reqs.get).Should(Equal(n+1), "did not reconnect after %v", wait)
}

func TestBackoffWaitsAsComputed(t *testing.T) {
	g := NewWithT(t)
	var reqs counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reqs.n.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()

	fc := clocktesting.NewFakeClock(time.Now())
	var mu sync.Mutex
	var reported []time.Duration
	c, err := New(Options{Server: srv.URL, Token: "t", Clock: fc, Rand: func() float64 { return 0.5 },
		InitialBackoff: time.Second, MaxBackoff: 4 * time.Second,
		OnRetry: func(err error, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, wait)
		}})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := c.Subscribe(ctx, Scope{Namespace: "ns"})
	g.Expect(err).NotTo(HaveOccurred())

	g.Eventually(reqs.get).Should(Equal(1))
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	for _, wait := range want {
		stepAndExpect(g, fc, &reqs, wait)
	}
	cancel()
	g.Eventually(sub.Events()).Should(BeClosed())
	g.Expect(sub.Err()).NotTo(HaveOccurred(), "a 500 is transient; cancelling is a normal end")
	mu.Lock()
	defer mu.Unlock()
	g.Expect(reported[:len(want)]).To(Equal(want))
}

func TestRetryAfterHonoured(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			g := NewWithT(t)
			var reqs counter
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if reqs.n.Add(1) == 1 {
					w.Header().Set("Retry-After", "3")
					http.Error(w, "slow down", code)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = w.Write([]byte("id: 9\nevent: synced\ndata: {}\n\n"))
			}))
			defer srv.Close()

			fc := clocktesting.NewFakeClock(time.Now())
			// Rand 0 makes the backoff 0: any wait is Retry-After's.
			c, err := New(Options{Server: srv.URL, Token: "t", Clock: fc, Rand: func() float64 { return 0 }})
			g.Expect(err).NotTo(HaveOccurred())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sub, err := c.Subscribe(ctx, Scope{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Eventually(reqs.get).Should(Equal(1))
			stepAndExpect(g, fc, &reqs, 3*time.Second)
			var ev Event
			g.Eventually(sub.Events()).Should(Receive(&ev))
			g.Expect(ev).To(Equal(Event{Type: "synced", ID: "9"}))
		})
	}
}
