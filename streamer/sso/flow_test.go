package sso_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/streamer/sso"
	"github.com/spell-platform/cast-operator/test/ssotest"
)

const (
	clientID = "cast-dashboard"
	home     = "http://dash.example.test"
)

var alice = ssotest.User{Subject: "u-alice", Email: "alice@example.com", Groups: []string{"team-a"}}

// newProvider runs a test provider that signs alice in.
func newProvider(t *testing.T, opts ssotest.Options) *ssotest.Provider {
	t.Helper()
	opts.ClientID = clientID
	p, err := ssotest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.SignIn(alice)
	return p
}

func newClient(t *testing.T, p *ssotest.Provider, tune ...func(*sso.Options)) *sso.Client {
	t.Helper()
	o := sso.Options{IssuerURL: p.URL, ClientID: clientID, RedirectURL: home + sso.CallbackPath, HTTPClient: p.HTTPClient()}
	for _, f := range tune {
		f(&o)
	}
	c, err := sso.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// flow is one sign-in started by a browser: its flow cookie and where the
// provider sent the browser back to.
type flow struct {
	cookies  []*http.Cookie
	callback *url.URL
}

// begin starts a sign-in and follows the browser to the provider, which
// answers with a redirect to the callback.
func begin(t *testing.T, c *sso.Client, p *ssotest.Provider) flow {
	t.Helper()
	rec := httptest.NewRecorder()
	authURL, err := c.Begin(context.Background(), rec, false)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	hc := *p.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatalf("visiting the provider: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("the provider did not redirect back (%s): %v", resp.Status, err)
	}
	return flow{cookies: rec.Result().Cookies(), callback: loc}
}

// finish delivers the callback with the flow's cookies.
func (f flow) finish(c *sso.Client) (sso.Tokens, error) {
	return c.Finish(context.Background(), request(f.callback.String(), f.cookies...))
}

// signIn runs a whole sign-in and returns its tokens and the session
// cookies a plain-HTTP streamer would set.
func signIn(t *testing.T, c *sso.Client, p *ssotest.Provider) (sso.Tokens, []*http.Cookie) {
	t.Helper()
	tok, err := begin(t, c, p).finish(c)
	if err != nil {
		t.Fatal(err)
	}
	cookies, err := c.SessionCookies(tok, false)
	if err != nil {
		t.Fatal(err)
	}
	return tok, cookies
}

func request(target string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	return r
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInSealsTheIDTokenInAStrictHttpOnlyCookie(t *testing.T) {
	p := newProvider(t, ssotest.Options{})
	c := newClient(t, p)
	f := begin(t, c, p)

	fc := cookieNamed(f.cookies, "cast_sso_flow")
	if fc == nil || !fc.HttpOnly || fc.SameSite != http.SameSiteLaxMode || fc.Path != "/api/v1/oidc/" {
		t.Fatalf("flow cookie %v: want HttpOnly, SameSite=Lax, Path=/api/v1/oidc/", fc)
	}
	if q := f.callback.Query(); q.Get("code") == "" || f.callback.Path != sso.CallbackPath {
		t.Fatalf("the provider redirected to %s, want the callback with a code", f.callback)
	}
	tok, err := f.finish(c)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if tok.Subject != alice.Subject || tok.RefreshToken == "" || time.Until(tok.Expiry) < 50*time.Minute {
		t.Fatalf("tokens %+v: want alice's, with a refresh token and an hour to live", tok)
	}

	cookies, err := c.SessionCookies(tok, true)
	if err != nil {
		t.Fatal(err)
	}
	sc := cookieNamed(cookies, sso.SessionCookieName)
	if sc == nil || !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/api/" {
		t.Fatalf("session cookie %v: want HttpOnly, Secure, SameSite=Strict, Path=/api/", sc)
	}
	if strings.Contains(sc.Value, tok.IDToken) || strings.HasPrefix(sc.Value, "eyJ") {
		t.Fatal("the session cookie holds the ID token in the clear")
	}
	if rc := cookieNamed(cookies, "cast_sso_refresh"); rc == nil || rc.Path != "/api/v1/oidc/" || strings.Contains(rc.Value, tok.RefreshToken) {
		t.Fatalf("refresh cookie %v: want it sealed and only sent to /api/v1/oidc/", rc)
	}
	got, ok := c.SessionFrom(request(home+"/api/v1/session", sc))
	if !ok || got.IDToken != tok.IDToken || !got.Expiry.Equal(tok.Expiry) {
		t.Fatalf("SessionFrom = %+v, %v; want the ID token back", got, ok)
	}
	other := newClient(t, p)
	if _, ok := other.SessionFrom(request(home+"/api/v1/session", sc)); ok {
		t.Fatal("a streamer with another session key opened the cookie")
	}
}

func TestFinishRefusesWhatIsNotThisBrowsersSignIn(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, c *sso.Client, p *ssotest.Provider) (*http.Request, error)
		want  error
	}{
		{name: "no flow cookie", want: sso.ErrFlow, setup: func(t *testing.T, c *sso.Client, p *ssotest.Provider) (*http.Request, error) {
			return request(begin(t, c, p).callback.String()), nil
		}},
		{name: "another sign-in's state", want: sso.ErrFlow, setup: func(t *testing.T, c *sso.Client, p *ssotest.Provider) (*http.Request, error) {
			a, b := begin(t, c, p), begin(t, c, p)
			return request(b.callback.String(), a.cookies...), nil
		}},
		{name: "a code for another PKCE challenge", want: sso.ErrProvider, setup: func(t *testing.T, c *sso.Client, p *ssotest.Provider) (*http.Request, error) {
			// An attacker's code (bound to their verifier) spliced into
			// the victim's callback: the exchange must fail.
			a, b := begin(t, c, p), begin(t, c, p)
			u := *a.callback
			q := u.Query()
			q.Set("code", b.callback.Query().Get("code"))
			u.RawQuery = q.Encode()
			return request(u.String(), a.cookies...), nil
		}},
		{name: "a code used twice", want: sso.ErrProvider, setup: func(t *testing.T, c *sso.Client, p *ssotest.Provider) (*http.Request, error) {
			f := begin(t, c, p)
			if _, err := f.finish(c); err != nil {
				return nil, err
			}
			return request(f.callback.String(), f.cookies...), nil
		}},
		{name: "an ID token with another nonce", want: sso.ErrProvider, setup: func(t *testing.T, c *sso.Client, p *ssotest.Provider) (*http.Request, error) {
			p.ForgeNonce("replayed")
			f := begin(t, c, p)
			return request(f.callback.String(), f.cookies...), nil
		}},
		{name: "the provider refuses", want: sso.ErrDenied, setup: func(t *testing.T, c *sso.Client, p *ssotest.Provider) (*http.Request, error) {
			f := begin(t, c, p)
			u := *f.callback
			u.RawQuery = url.Values{"state": {f.callback.Query().Get("state")}, "error": {"access_denied"}}.Encode()
			return request(u.String(), f.cookies...), nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, ssotest.Options{})
			c := newClient(t, p)
			r, err := tc.setup(t, c, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Finish(context.Background(), r); !errors.Is(err, tc.want) {
				t.Fatalf("Finish: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestConfidentialClientSendsItsSecret(t *testing.T) {
	p := newProvider(t, ssotest.Options{ClientSecret: "s3cret"})
	good := newClient(t, p, func(o *sso.Options) { o.ClientSecret = "s3cret" })
	if _, err := begin(t, good, p).finish(good); err != nil {
		t.Fatalf("with the secret: %v", err)
	}
	public := newClient(t, p)
	if _, err := begin(t, public, p).finish(public); !errors.Is(err, sso.ErrProvider) {
		t.Fatalf("without the secret: %v, want ErrProvider", err)
	}
}

func TestRefreshRenewsTheSessionForTheSameUser(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	p := newProvider(t, ssotest.Options{})
	c := newClient(t, p, func(o *sso.Options) { o.Now = clock })
	tok, cookies := signIn(t, c, p)
	refreshReq := func(cs ...*http.Cookie) *http.Request { return request(home+"/api/v1/oidc/refresh", cs...) }

	renewed, err := c.Refresh(context.Background(), refreshReq(cookies...))
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if renewed.Subject != tok.Subject || renewed.IDToken == tok.IDToken || renewed.RefreshToken == tok.RefreshToken || p.Refreshes() != 1 {
		t.Fatalf("renewed %+v after %d refreshes: want a new ID and refresh token for the same subject", renewed, p.Refreshes())
	}
	if _, err := c.Refresh(context.Background(), refreshReq(cookies...)); !errors.Is(err, sso.ErrNoRefresh) {
		t.Errorf("the rotated-away refresh token: %v, want ErrNoRefresh", err)
	}
	if _, err := c.Refresh(context.Background(), refreshReq()); !errors.Is(err, sso.ErrNoRefresh) {
		t.Errorf("no refresh cookie: %v, want ErrNoRefresh", err)
	}
	fresh, _ := c.SessionCookies(renewed, false)
	now = now.Add(sso.MaxSessionAge)
	if _, err := c.Refresh(context.Background(), refreshReq(fresh...)); !errors.Is(err, sso.ErrNoRefresh) {
		t.Errorf("a session %s old: %v, want ErrNoRefresh", sso.MaxSessionAge, err)
	}
}

func TestEndSessionURLNamesTheClientAndTheWayBack(t *testing.T) {
	p := newProvider(t, ssotest.Options{})
	u, err := url.Parse(newClient(t, p).EndSessionURL(context.Background()))
	if err != nil || u.String() == "" {
		t.Fatalf("EndSessionURL = %q, %v", u, err)
	}
	q := u.Query()
	if u.Path != "/logout" || q.Get("client_id") != clientID || q.Get("post_logout_redirect_uri") != home+"/" || q.Has("id_token_hint") {
		t.Fatalf("end session URL %s: want the provider's, with client_id and post_logout_redirect_uri=%s/ and no token", u, home)
	}
	without := newProvider(t, ssotest.Options{NoEndSession: true})
	if got := newClient(t, without).EndSessionURL(context.Background()); got != "" {
		t.Fatalf("a provider without end_session_endpoint gave %q", got)
	}
}

func TestSessionCookiesRefuseATokenTooLargeForBrowsers(t *testing.T) {
	p := newProvider(t, ssotest.Options{})
	c := newClient(t, p)
	big := sso.Tokens{IDToken: strings.Repeat("x", 4000), Expiry: time.Now().Add(time.Hour), Since: time.Now()}
	if _, err := c.SessionCookies(big, false); !errors.Is(err, sso.ErrProvider) || !strings.Contains(err.Error(), "fewer claims") {
		t.Fatalf("SessionCookies of a 4000-byte token: %v, want an error saying to trim claims", err)
	}
}

func TestProviderAnswersAreBounded(t *testing.T) {
	huge := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + strings.Repeat("a", sso.MaxProviderBody) + `"}`))
	}))
	defer huge.Close()
	c, err := sso.New(sso.Options{IssuerURL: huge.URL, ClientID: clientID, RedirectURL: home + sso.CallbackPath, HTTPClient: huge.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Begin(context.Background(), httptest.NewRecorder(), false)
	if !errors.Is(err, sso.ErrProviderUnavailable) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Begin against a provider with a huge discovery document: %v", err)
	}
}
