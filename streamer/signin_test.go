package streamer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/spell-platform/cast-operator/streamer/sso"
	"github.com/spell-platform/cast-operator/test/ssotest"
)

// TestSingleSignOnRoutes drives the streamer's single sign-on endpoints
// up to the point where TokenReview would decide, against a real (test)
// provider; streamer/dashboard's browser specs run the whole sign-in
// against kube-apiserver.
func TestSingleSignOnRoutes(t *testing.T) {
	idp, err := ssotest.Start(ssotest.Options{ClientID: "casts"})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.SignIn(ssotest.User{Subject: "s", Email: "dev@example.com"})
	const home = "http://casts.example.test"
	srv, err := New(Options{SSO: sso.Options{IssuerURL: idp.URL, ClientID: "casts", RedirectURL: home + sso.CallbackPath,
		HTTPClient: idp.HTTPClient()}}, nil, fake.NewSimpleClientset())
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	serve := func(method, target string, cookies ...*http.Cookie) *http.Response {
		r := httptest.NewRequest(method, target, nil)
		r.RemoteAddr = "192.0.2.1:1234"
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	body := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	if resp := serve(http.MethodGet, "/api/v1/session/methods"); body(resp) != `{"token":true,"sso":true}` {
		t.Fatalf("sign-in methods do not offer single sign-on")
	}

	login := serve(http.MethodGet, "/api/v1/oidc/login")
	authURL, _ := login.Location()
	if login.StatusCode != http.StatusFound || authURL == nil || !strings.HasPrefix(authURL.String(), idp.URL+"/authorize?") ||
		authURL.Query().Get("code_challenge_method") != "S256" || authURL.Query().Get("nonce") == "" {
		t.Fatalf("login = %d to %v, want a redirect to the provider with PKCE (S256) and a nonce", login.StatusCode, authURL)
	}
	flow := login.Cookies()
	if len(flow) != 1 || flow[0].SameSite != http.SameSiteLaxMode || !flow[0].HttpOnly {
		t.Fatalf("login cookies %v: want one HttpOnly, SameSite=Lax flow cookie", flow)
	}

	// The provider approves and sends the browser back.
	hc := *idp.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	atIdP, err := hc.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	atIdP.Body.Close()
	callback, _ := atIdP.Location()
	if callback == nil || !strings.HasPrefix(callback.String(), home+sso.CallbackPath) {
		t.Fatalf("the provider sent the browser to %v", callback)
	}

	t.Run("a callback without the flow cookie is 400", func(t *testing.T) {
		resp := serve(http.MethodGet, callback.RequestURI())
		if b := body(resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "no sign-in is in progress in this browser") {
			t.Fatalf("callback without the flow cookie = %d %q", resp.StatusCode, b)
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("the failure page's headers %v leak the code or allow scripts", resp.Header)
		}
	})

	t.Run("refresh without a session is 401", func(t *testing.T) {
		if resp := serve(http.MethodPost, "/api/v1/oidc/refresh"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("refresh = %d", resp.StatusCode)
		}
	})

	t.Run("sign-out of a single sign-on session points at the provider's", func(t *testing.T) {
		resp := serve(http.MethodDelete, "/api/v1/session", &http.Cookie{Name: sso.SessionCookieName, Value: "stale"})
		b := body(resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(b, `"endSessionURL":"`+idp.URL+`/logout?`) ||
			!strings.Contains(b, url.QueryEscape(home+"/")) {
			t.Fatalf("sign-out = %d %q", resp.StatusCode, b)
		}
		cleared := map[string]bool{}
		for _, c := range resp.Cookies() {
			cleared[c.Name] = c.MaxAge < 0
		}
		if !cleared["cast_session"] || !cleared[sso.SessionCookieName] || !cleared["cast_sso_refresh"] {
			t.Fatalf("sign-out cleared %v, want every session cookie", cleared)
		}
		if resp := serve(http.MethodDelete, "/api/v1/session"); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("sign-out without a single sign-on session = %d, want 204 as before", resp.StatusCode)
		}
	})
}
