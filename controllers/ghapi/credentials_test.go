package ghapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// authOfLastRequest runs one API call with the client For picks and returns
// the Authorization header GitHub saw.
func authOfLastRequest(t *testing.T, srv *ghapitest.Server, cs *Clients, c *v1alpha1.Cast) string {
	t.Helper()
	cl, err := cs.For(ctxT(t), c)
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	if _, err := cl.ListArtifacts(ctxT(t), testRepo, srv.AddRun(ghapitest.Run{Repository: testRepo}).ID); err != nil {
		t.Fatalf("ListArtifacts: %v", err)
	}
	reqs := srv.Requests()
	return reqs[len(reqs)-1].Authorization
}

func TestSecretWinsOverTokenFile(t *testing.T) {
	srv := newFake(t)
	srv.SetTokens("file-token", "secret-token")
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "file-token")
	reader := fake.NewClientBuilder().WithObjects(
		secret("creds", map[string]string{SecretTokenKey: "secret-token\n"}),
		secret("other-ns", nil),
	).Build()
	cs := NewClients(Options{BaseURL: srv.URL, TokenFile: path}, reader)

	if got := authOfLastRequest(t, srv, cs, cast(&v1alpha1.SecretReference{Name: "creds"})); got != "Bearer secret-token" {
		t.Errorf("with secretRef: Authorization = %q", got)
	}
	if got := authOfLastRequest(t, srv, cs, cast(nil)); got != "Bearer file-token" {
		t.Errorf("without secretRef: Authorization = %q", got)
	}
}

func TestSecretProblems(t *testing.T) {
	reader := fake.NewClientBuilder().WithObjects(
		secret("no-key", map[string]string{"password": "x"}),
		secret("empty", map[string]string{SecretTokenKey: "  "}),
	).Build()
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "file-token")
	cs := NewClients(Options{TokenFile: path}, reader)

	_, err := cs.For(ctxT(t), cast(&v1alpha1.SecretReference{Name: "missing"}))
	if !apierrors.IsNotFound(err) || errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "team-a/missing") {
		t.Errorf("missing Secret: %v, want a NotFound naming team-a/missing (and no fallback to the file)", err)
	}
	for _, name := range []string{"no-key", "empty"} {
		_, err := cs.For(ctxT(t), cast(&v1alpha1.SecretReference{Name: name}))
		if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), name) {
			t.Errorf("Secret %s: %v, want ErrInvalidSecret", name, err)
		}
	}
}

func TestNoCredentials(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	writeToken(t, empty, "")
	for name, opts := range map[string]Options{
		"no token file":      {},
		"missing token file": {TokenFile: filepath.Join(dir, "absent")},
		"empty token file":   {TokenFile: empty},
	} {
		_, err := NewClients(opts, nil).For(context.Background(), cast(nil))
		if !errors.Is(err, ErrNoCredentials) {
			t.Errorf("%s: err = %v, want ErrNoCredentials", name, err)
		}
	}
	if _, err := NewClients(Options{TokenFile: dir}, nil).For(context.Background(), cast(nil)); err == nil || errors.Is(err, ErrNoCredentials) {
		t.Errorf("unreadable token file: err = %v, want a read error", err)
	}
}

func TestTokenFileRotation(t *testing.T) {
	srv := newFake(t)
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "one")
	cs := NewClients(Options{BaseURL: strings.TrimSuffix(srv.URL, "/"), TokenFile: path}, nil)

	if got := authOfLastRequest(t, srv, cs, cast(nil)); got != "Bearer one" {
		t.Fatalf("Authorization = %q", got)
	}
	a, _ := cs.For(ctxT(t), cast(nil))
	b, _ := cs.For(ctxT(t), cast(nil))
	if a != b {
		t.Error("same token should reuse the client, keeping its rate-limit state")
	}
	writeToken(t, path, "two")
	if got := authOfLastRequest(t, srv, cs, cast(nil)); got != "Bearer two" {
		t.Errorf("after rotation Authorization = %q", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.For(ctxT(t), cast(nil)); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("after removal: %v, want ErrNoCredentials", err)
	}
}
