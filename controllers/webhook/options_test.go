package webhook

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

type discardStore struct{}

func (discardStore) Store(context.Context, string, []CastRef, runstatus.Observation) error {
	return nil
}

func TestNewValidatesOptions(t *testing.T) {
	idx, store := &fakeIndex{}, &fakeStore{}
	if _, err := New(Options{}, idx, store); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("New without a secret: %v, want an error about the secret", err)
	}
	if _, err := New(Options{Secret: testSecret, Path: "hooks"}, idx, store); err == nil {
		t.Error("New with a relative path succeeded")
	}
	if _, err := New(Options{Secret: testSecret}, nil, store); err == nil {
		t.Error("New without an index succeeded")
	}
	secret := []byte("s3cret")
	r, err := New(Options{Secret: secret}, idx, store)
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.Path != DefaultPath || r.opts.MaxBodyBytes != DefaultMaxBodyBytes || r.opts.DeliveryTTL != DefaultDeliveryTTL ||
		r.opts.MaxDeliveries != DefaultMaxDeliveries || r.opts.ShutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("defaults not applied: %+v", r.opts)
	}
	secret[0] = 'X'
	if string(r.secret) != "s3cret" {
		t.Error("the receiver shares the caller's secret slice")
	}
}

func TestSignatureMatchesGitHubsExample(t *testing.T) {
	// GitHub's documented example for validating deliveries.
	got := Signature([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("Signature = %s, want %s", got, want)
	}
}

func BenchmarkServeHTTP(b *testing.B) {
	r, err := New(Options{Secret: testSecret}, &fakeIndex{casts: map[string][]types.NamespacedName{
		runKey(testRepo, testRunID): {castA},
	}}, discardStore{})
	if err != nil {
		b.Fatal(err)
	}
	payload := readTestdata(b, "workflow_job.completed.json")
	sig := Signature(testSecret, payload)
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, DefaultPath, bytes.NewReader(payload))
		req.Header.Set(HeaderEvent, EventWorkflowJob)
		req.Header.Set(HeaderSignature, sig)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("got %d", w.Code)
		}
	}
}
