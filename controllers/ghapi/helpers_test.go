package ghapi

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

const testRepo = "spell-platform/spells"

// newFake starts a fake GitHub that is closed when the test ends.
func newFake(t *testing.T) *ghapitest.Server {
	t.Helper()
	srv := ghapitest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// writeToken writes token to a fresh file the way a mounted Secret would
// rotate: a new file renamed over the old one.
func writeToken(t *testing.T, path, token string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// newClient returns a Client for srv using a token file holding token.
func newClient(t *testing.T, srv *ghapitest.Server, token string) *Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, token)
	cs := NewClients(Options{BaseURL: srv.URL, TokenFile: path, UserAgent: "cast-operator-test", WriteInterval: time.Millisecond}, nil)
	c, err := cs.For(context.Background(), cast(nil))
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	return c
}

func cast(ref *v1alpha1.SecretReference) *v1alpha1.Cast {
	return &v1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "team-a", UID: "0b9f6c1e-5d2a-4c43-9a55-3f4b2d7e8a10"},
		Spec:       v1alpha1.CastSpec{Repository: testRepo, Workflow: "cast.yml", Ref: "main", CredentialsSecretRef: ref},
	}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// requestsTo returns the recorded requests whose path ends with suffix.
func requestsTo(srv *ghapitest.Server, method, suffix string) []ghapitest.Request {
	var out []ghapitest.Request
	for _, r := range srv.Requests() {
		if r.Method == method && len(r.Path) >= len(suffix) && r.Path[len(r.Path)-len(suffix):] == suffix {
			out = append(out, r)
		}
	}
	return out
}
