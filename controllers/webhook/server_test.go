package webhook

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func newTestReceiver(t *testing.T, opts Options) *Receiver {
	t.Helper()
	opts.Secret = testSecret
	r, err := New(opts, &fakeIndex{casts: map[string][]types.NamespacedName{}}, &fakeStore{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStartOnBusyPortFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }()

	r := newTestReceiver(t, Options{BindAddress: busy.Addr().String()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = r.Server(nil).Start(ctx)
	if err == nil {
		t.Fatal("Start on a busy port returned nil")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Start: %v, want it to wrap EADDRINUSE", err)
	}
	if !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("Start: %q does not name the address", err)
	}
}

func TestServeStopsWhenContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := newTestReceiver(t, Options{ShutdownTimeout: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- r.Server(ln).Start(ctx) }()

	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	ping := readTestdata(t, "ping.json")
	post := func(path string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(ping))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(HeaderEvent, EventPing)
		req.Header.Set(HeaderSignature, Signature(testSecret, ping))
		return client.Do(req)
	}

	resp, err := post(DefaultPath)
	if err != nil {
		t.Fatalf("POST %s: %v", DefaultPath, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ping on %s: %d, want 200", DefaultPath, resp.StatusCode)
	}
	resp, err = post("/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("ping on /elsewhere: %d, want 404", resp.StatusCode)
	}
	client.CloseIdleConnections()

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if _, err := post(DefaultPath); err == nil {
		t.Error("the server still answers after Serve returned")
	}
}

func TestServeReportsAFailingListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close() // Serve's Accept fails at once
	r := newTestReceiver(t, Options{})
	served := make(chan error, 1)
	go func() { served <- r.Server(ln).Start(context.Background()) }()
	select {
	case err := <-served:
		if err == nil || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve on a closed listener: %v, want an error wrapping net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on a closed listener did not return")
	}
}

func TestNeedLeaderElection(t *testing.T) {
	if newTestReceiver(t, Options{}).Server(nil).NeedLeaderElection() {
		t.Error("NeedLeaderElection = true; every replica must accept webhooks")
	}
}
