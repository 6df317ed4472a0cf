package streamer

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/spell-platform/cast-operator/streamer/wire"
)

func TestCORSIsClosedUnlessAnOriginIsAllowed(t *testing.T) {
	tests := []struct {
		name, origin, method string
		allowed              []string
		wantCode             int
		wantAllowOrigin      string
	}{
		{"no origins configured: no CORS headers", "https://evil.example", http.MethodGet, nil, http.StatusOK, ""},
		{"preflight refused by default", "https://evil.example", http.MethodOptions, nil, http.StatusForbidden, ""},
		{"allowed origin", "https://dash.example", http.MethodGet, []string{"https://dash.example"}, http.StatusOK, "https://dash.example"},
		{"allowed preflight", "https://dash.example", http.MethodOptions, []string{"https://dash.example"}, http.StatusNoContent, "https://dash.example"},
		{"other origin with a list", "https://evil.example", http.MethodGet, []string{"https://dash.example"}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := New(Options{AllowedOrigins: tt.allowed}, nil, fake.NewSimpleClientset())
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(tt.method, "/healthz", nil)
			r.Header.Set("Origin", tt.origin)
			if tt.method == http.MethodOptions {
				r.Header.Set("Access-Control-Request-Method", "GET")
			}
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Errorf("status %d, want %d", w.Code, tt.wantCode)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllowOrigin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.wantAllowOrigin)
			}
			if tt.wantAllowOrigin != "" && w.Header().Get("Access-Control-Allow-Credentials") != "true" {
				t.Error("credentials not allowed for an allowed origin")
			}
			if got := w.Header().Get("Access-Control-Expose-Headers"); (got == "Retry-After") != (tt.wantAllowOrigin != "") {
				t.Errorf("Access-Control-Expose-Headers %q: an allowed origin must read Retry-After, no other", got)
			}
		})
	}
}

// An action needs wire.ActionHeader, so a cross-origin script must ask a
// preflight first: refused for any origin not listed, allowed (with the
// header) for a listed one. This is half the CSRF defence of actions.
func TestActionPreflightOnlyForAllowedOrigins(t *testing.T) {
	srv, err := New(Options{AllowedOrigins: []string{"https://dash.example"}}, nil, fake.NewSimpleClientset())
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]int{"https://evil.example": http.StatusForbidden, "https://dash.example": http.StatusNoContent} {
		r := httptest.NewRequest(http.MethodOptions, "/api/v1/namespaces/ci/casts/build/cancel", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "x-cast-action,content-type")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("preflight from %s: status %d, want %d", origin, w.Code, want)
		}
		allowsHeader := strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), wire.ActionHeader)
		if allowsHeader != (want == http.StatusNoContent) {
			t.Errorf("preflight from %s: Access-Control-Allow-Headers %q", origin, w.Header().Get("Access-Control-Allow-Headers"))
		}
	}
}

// The browser client is imported as a module, a CORS request: a page on a
// listed origin may import it, any other may not read it.
func TestClientModuleFollowsAllowedOrigins(t *testing.T) {
	srv, err := New(Options{AllowedOrigins: []string{"https://dash.example"}}, nil, fake.NewSimpleClientset())
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]string{"https://evil.example": "", "https://dash.example": "https://dash.example"} {
		r := httptest.NewRequest(http.MethodGet, "/js/v1/cast-client.js", nil)
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("GET from %s: %d %q, want 200 text/javascript", origin, w.Code, w.Header().Get("Content-Type"))
		}
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("GET from %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}

// Once origins are allowed every answer depends on the request's Origin,
// so a shared cache must key on it: otherwise the copy of a cacheable file
// (/js/v1/) fetched without an Origin, or from another origin, and so
// without CORS headers, is what a listed origin gets, and it fails.
func TestAnswersVaryByOriginOnceOriginsAreAllowed(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		allowed      []string
		wantVary     bool
	}{
		{"no origins configured", "https://dash.example", nil, false},
		{"no Origin header", "", []string{"https://dash.example"}, true},
		{"another origin", "https://evil.example", []string{"https://dash.example"}, true},
		{"an allowed origin", "https://dash.example", []string{"https://dash.example"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := New(Options{AllowedOrigins: tc.allowed}, nil, fake.NewSimpleClientset())
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/js/v1/cast-client.js", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, r)
			vary := w.Header().Values("Vary")
			if slices.Contains(vary, "Origin") != tc.wantVary || len(vary) > 1 {
				t.Fatalf("Vary %q, want Origin once: %v", vary, tc.wantVary)
			}
		})
	}
}
