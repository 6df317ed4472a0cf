package streamer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

// TestDashboardMountsBesideTheAPI goes through the streamer's real router:
// the dashboard takes "GET /", and every API route stays the API's (a
// dashboard page must never answer for a mistyped or unauthenticated API
// call).
func TestDashboardMountsBesideTheAPI(t *testing.T) {
	srv, err := New(Options{}, nil, fake.NewSimpleClientset())
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodGet, "/", http.StatusOK, "<!doctype html>"},
		{http.MethodGet, "/assets/app.js", http.StatusOK, ""},
		{http.MethodGet, "/healthz", http.StatusOK, "ok"},
		{http.MethodGet, "/js/v1/cast-client.js", http.StatusOK, "// @spell-platform/cast-client"},
		{http.MethodGet, "/js/v1/react.d.ts", http.StatusOK, ""},
		{http.MethodGet, "/js/v1/nope.js", http.StatusNotFound, "not found"},
		{http.MethodGet, "/js/v2/cast-client.js", http.StatusNotFound, "not found"},
		{http.MethodGet, "/api/v1/namespaces/ci/casts/events", http.StatusUnauthorized, "no bearer token"},
		{http.MethodGet, "/api/v1/casts", http.StatusUnauthorized, "no bearer token"},
		{http.MethodGet, "/api/v1/session", http.StatusUnauthorized, "no bearer token"},
		{http.MethodDelete, "/api/v1/session", http.StatusNoContent, ""},
		{http.MethodGet, "/api/v1/session/methods", http.StatusOK, `{"token":true,"sso":false}`},
		{http.MethodGet, "/api/v1/oidc/login", http.StatusNotFound, "single sign-on is not configured"},
		{http.MethodGet, "/api/v1/oidc/callback", http.StatusNotFound, "single sign-on is not configured"},
		{http.MethodPost, "/api/v1/oidc/refresh", http.StatusForbidden, `{"message":"actions need the header X-Cast-Action`},
		{http.MethodGet, "/api/v1/typo", http.StatusNotFound, ""},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, ""},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Result().Body)
		if w.Code != c.code || !strings.HasPrefix(string(b), c.body) {
			t.Errorf("%s %s = %d %.60q, want %d %q", c.method, c.path, w.Code, b, c.code, c.body)
		}
	}
}

// Every stream endpoint refuses an unknown event type with a 400 naming
// it, before it asks who is calling; the JSON endpoints do not read
// ?events= at all.
func TestUnknownEventTypeIsABadRequestOnEveryStream(t *testing.T) {
	srv, err := New(Options{}, nil, fake.NewSimpleClientset())
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/api/v1/casts/events?events=complete,foo", http.StatusBadRequest,
			`unknown event type "foo" in events: want status, progress, complete, deleted`},
		{"/api/v1/namespaces/ci/casts/events?events=Complete", http.StatusBadRequest, `unknown event type "Complete"`},
		{"/api/v1/namespaces/ci/casts/x/events?events=complete&events=bar", http.StatusBadRequest, `unknown event type "bar"`},
		{"/api/v1/namespaces/ci/casts/events?events=complete,deleted,synced", http.StatusUnauthorized, "no bearer token"},
		{"/api/v1/namespaces/ci/casts/x/events?events=", http.StatusUnauthorized, "no bearer token"},
		{"/api/v1/namespaces/ci/casts?events=foo", http.StatusUnauthorized, "no bearer token"},
	} {
		r := httptest.NewRequest(http.MethodGet, c.path, nil)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Result().Body)
		if w.Code != c.code || !strings.Contains(string(b), c.body) {
			t.Errorf("GET %s = %d %q, want %d with %q", c.path, w.Code, b, c.code, c.body)
		}
	}
}
