package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// TestSmoke soaks a streamer for 20 s with a few clients churning fast, so
// the harness (and the resource accounting) is exercised by `go test ./...`;
// `make soak` runs the real thing.
func TestSmoke(t *testing.T) {
	if _, err := localcluster.New(""); errors.Is(err, localcluster.ErrNoAssets) {
		t.Fatal(err) // make test builds them; a plain go test needs `make envtest` first
	}
	cfg := defaults()
	cfg.clients, cfg.identities, cfg.casts = 12, 2, 6
	cfg.duration, cfg.churn, cfg.streamDuration, cfg.rotate = 20*time.Second, 4*time.Second, 5*time.Second, 7*time.Second
	cfg.settle = time.Minute
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !res.passed() {
		t.Fatalf("soak failed:\n%s", out.String())
	}
	for _, want := range []string{"PASS goroutines", "PASS fds", "PASS heap_live", "INFO rss", "streams closed by reason:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if res.connects <= int64(cfg.clients) {
		t.Errorf("%d subscriptions for %d clients: no churn happened", res.connects, cfg.clients)
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-clients", "50", "-minutes", "0.5", "-churn", "3s"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.clients != 50 || cfg.duration != 30*time.Second || cfg.churn != 3*time.Second {
		t.Errorf("parsed %+v", cfg)
	}
	if _, err := parseFlags([]string{"-clients", "0"}, &bytes.Buffer{}); err == nil {
		t.Error("-clients 0 accepted")
	}
}
