package streamer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/spell-platform/cast-operator/streamer/sso"
	"github.com/spell-platform/cast-operator/streamer/wire"
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
	ssoOpts := sso.Options{IssuerURL: idp.URL, ClientID: "casts", RedirectURL: home + sso.CallbackPath,
		HTTPClient: idp.HTTPClient(), SessionKey: []byte(strings.Repeat("k", sso.MinSessionKeyBytes))}
	srv, err := New(Options{SSO: ssoOpts}, nil, fake.NewSimpleClientset())
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	// serveFrom sends a request from the client address ip, with the
	// header X-Cast-Action when action is set.
	serveFrom := func(ip string, action bool, method, target string, cookies ...*http.Cookie) *http.Response {
		r := httptest.NewRequest(method, target, nil)
		r.RemoteAddr = ip + ":1234"
		if action {
			r.Header.Set(wire.ActionHeader, wire.ActionHeaderValue)
		}
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	serve := func(method, target string, cookies ...*http.Cookie) *http.Response {
		return serveFrom("192.0.2.1", false, method, target, cookies...)
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

	// A refresh cookie as the streamer seals it, for a refresh token the
	// provider does not know: every refresh it reaches is refused.
	minter, err := sso.New(ssoOpts)
	if err != nil {
		t.Fatal(err)
	}
	refreshCookies, err := minter.SessionCookies(sso.Tokens{IDToken: "id", Expiry: time.Now().Add(time.Hour), Subject: "s",
		RefreshToken: "unknown-to-the-provider", Since: time.Now()}, false)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("refresh without a session is 401", func(t *testing.T) {
		if resp := serveFrom("192.0.2.1", true, http.MethodPost, "/api/v1/oidc/refresh"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("refresh = %d", resp.StatusCode)
		}
	})

	t.Run("refresh without X-Cast-Action is 403, so a same-site form cannot trigger it", func(t *testing.T) {
		resp := serve(http.MethodPost, "/api/v1/oidc/refresh", refreshCookies...)
		if b := body(resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(b, wire.ActionHeader) {
			t.Fatalf("refresh without the header = %d %q, want 403 naming %s", resp.StatusCode, b, wire.ActionHeader)
		}
	})

	t.Run("refreshes from one address are rate-limited before the provider is asked", func(t *testing.T) {
		codes := map[int]int{}
		for range 20 {
			resp := serveFrom("198.51.100.7", true, http.MethodPost, "/api/v1/oidc/refresh", refreshCookies...)
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests && !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(resp.Header.Get("Retry-After")) {
				t.Fatalf("429 with Retry-After %q, want whole seconds", resp.Header.Get("Retry-After"))
			}
		}
		if codes[http.StatusUnauthorized] == 0 || codes[http.StatusTooManyRequests] == 0 {
			t.Fatalf("20 refreshes from one address answered %v: want the provider's refusals (401), then 429", codes)
		}
		if resp := serveFrom("198.51.100.8", true, http.MethodPost, "/api/v1/oidc/refresh", refreshCookies...); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a refresh from another address = %d, want it to reach the provider (401)", resp.StatusCode)
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

// Behind a TLS ingress missing from --trusted-proxies the streamer sees
// plain HTTP; the dashboard's https:// redirect URL still makes every
// single sign-on cookie Secure, set or cleared.
func TestSingleSignOnCookiesAreSecureWhenTheDashboardIsHTTPS(t *testing.T) {
	idp, err := ssotest.Start(ssotest.Options{ClientID: "casts"})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	srv, err := New(Options{SSO: sso.Options{IssuerURL: idp.URL, ClientID: "casts",
		RedirectURL: "https://casts.example.test" + sso.CallbackPath, HTTPClient: idp.HTTPClient()}}, nil, fake.NewSimpleClientset())
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, c := range []struct {
		method, target string
		cookies        []string
	}{
		{http.MethodGet, "/api/v1/oidc/login", []string{"cast_sso_flow"}},
		{http.MethodGet, sso.CallbackPath + "?state=x&code=y", []string{"cast_sso_flow"}},
		{http.MethodDelete, "/api/v1/session", []string{sso.SessionCookieName, "cast_sso_refresh", "cast_sso_flow"}},
	} {
		r := httptest.NewRequest(c.method, "http://casts.example.test"+c.target, nil)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		secure := map[string]bool{}
		for _, ck := range w.Result().Cookies() {
			secure[ck.Name] = ck.Secure
		}
		for _, name := range c.cookies {
			if s, set := secure[name]; !set || !s {
				t.Errorf("%s %s over plain HTTP set %s Secure=%v (set: %v), want Secure for an https:// dashboard", c.method, c.target, name, s, set)
			}
		}
	}
}
