package sso_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spell-platform/cast-operator/streamer/sso"
	"github.com/spell-platform/cast-operator/test/ssotest"
)

// gatedDiscovery holds the provider's discovery document back until
// released, counting how often it was asked for.
type gatedDiscovery struct {
	next    http.RoundTripper
	asked   chan struct{}
	release chan struct{}
	count   atomic.Int32
}

func (g *gatedDiscovery) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
		g.count.Add(1)
		select {
		case g.asked <- struct{}{}:
		default:
		}
		select {
		case <-g.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return g.next.RoundTrip(r)
}

// While the provider is slow to answer discovery, a sign-in whose
// request ends stops waiting at once instead of queueing behind the
// fetch, and everyone else shares that one fetch.
func TestDiscoveryIsSharedAndWaitedForOnlyWhileTheRequestLasts(t *testing.T) {
	p := newProvider(t, ssotest.Options{})
	gate := &gatedDiscovery{next: p.HTTPClient().Transport, asked: make(chan struct{}, 1), release: make(chan struct{})}
	c := newClient(t, p, func(o *sso.Options) { o.HTTPClient = &http.Client{Transport: gate} })
	begin := func(ctx context.Context) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := c.Begin(ctx, httptest.NewRecorder(), false)
			done <- err
		}()
		return done
	}

	first := begin(context.Background())
	<-gate.asked
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := <-begin(gone); !errors.Is(err, context.Canceled) || !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Fatalf("a sign-in whose request ended during discovery: %v, want ErrProviderUnavailable and context.Canceled", err)
	}
	second := begin(context.Background())
	close(gate.release)
	for i, done := range []<-chan error{first, second} {
		if err := <-done; err != nil {
			t.Fatalf("sign-in %d waiting for discovery: %v", i+1, err)
		}
	}
	if n := gate.count.Load(); n != 1 {
		t.Fatalf("discovery was fetched %d times, want once for every sign-in", n)
	}
}
