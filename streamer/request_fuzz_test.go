package streamer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	pathpkg "path"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
)

// FuzzParseRequest: any namespace, name and labelSelector either parse into
// a valid scope or give an error; never a panic, never an invalid name let
// through to RBAC.
func FuzzParseRequest(f *testing.F) {
	f.Add("default", "build-42", "team=blue")
	f.Add("default", "", "team in (a,b),!legacy")
	f.Add("", "", "")
	f.Add("Bad_NS", "x", "a=")
	f.Add("ns", "../../etc", "===")
	f.Add("ns", "name", "x,y=z,!")
	f.Fuzz(func(t *testing.T, ns, name, selector string) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/casts/events?labelSelector="+url.QueryEscape(selector), nil)
		r.SetPathValue("namespace", ns)
		r.SetPathValue("name", name)
		req, err := parseRequest(r)
		if err != nil {
			return
		}
		if ns != "" && len(validation.IsDNS1123Label(ns)) > 0 {
			t.Fatalf("invalid namespace %q accepted", ns)
		}
		if name != "" && len(validation.IsDNS1123Subdomain(name)) > 0 {
			t.Fatalf("invalid name %q accepted", name)
		}
		if req.scope.Namespace != ns || req.scope.Name != name || req.filter.Namespace != ns || req.filter.Name != name {
			t.Fatalf("scope %+v / filter %+v do not match the path", req.scope, req.filter)
		}
	})
}

// FuzzRoutes sends arbitrary paths and methods through the real router
// without credentials: under /api/ the answer is always a 4xx (signing out
// aside); elsewhere (probes, metrics, the dashboard) never a 5xx but an
// unready /readyz; never a panic.
func FuzzRoutes(f *testing.F) {
	srv, err := New(Options{}, nil, fake.NewSimpleClientset())
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Add("GET", "/api/v1/namespaces/default/casts/x/events")
	f.Add("GET", "/api/v1/casts/events?labelSelector=%ZZ")
	f.Add("POST", "/api/v1/session")
	f.Add("DELETE", "/api/v1/namespaces/a/casts")
	f.Add("GET", "/api/v1/namespaces//casts/events")
	f.Add("GET", "/%2e%2e/%2e%2e/etc/passwd")
	f.Add("GET", "/api/v1/unknown")
	f.Add("HEAD", "/api/v1/casts")
	f.Add("GET", "/api/v1/namespaces/Bad_NS/casts")
	f.Fuzz(func(t *testing.T, method, path string) {
		if method == "" || path == "" || path[0] != '/' || !validMethod(method) {
			return
		}
		// Servers always give handlers a non-nil body.
		r, err := http.NewRequest(method, "http://streamer.local"+path, http.NoBody)
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 && !(w.Code == http.StatusServiceUnavailable && r.URL.Path == "/readyz") {
			t.Fatalf("%s %s answered %d: %s", method, path, w.Code, w.Body.String())
		}
		// Under /api/ nothing but signing out answers without credentials
		// (a redirect only tidies an unclean path).
		p := r.URL.Path
		redirect := w.Code >= 300 && w.Code < 400 && pathpkg.Clean(p) != p
		if strings.HasPrefix(pathpkg.Clean(p), "/api/") && !redirect && !(method == http.MethodDelete && p == "/api/v1/session") &&
			(w.Code < 400 || w.Code >= 500) {
			t.Fatalf("%s %s answered %d without credentials, want a 4xx: %s", method, path, w.Code, w.Body.String())
		}
	})
}

func validMethod(m string) bool {
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return len(m) <= 10
}
