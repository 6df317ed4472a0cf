// Package ssotest is an OpenID Connect provider for tests: discovery,
// keys, an authorization endpoint that approves one configured user at
// once (no login page), a token endpoint that checks PKCE and issues
// RS256 ID tokens and refresh tokens, and an end-session endpoint. It
// serves TLS, as kube-apiserver insists on for an issuer, so the API
// server can be configured to trust it (kubetest.WithJWTIssuers) and the
// streamer's single sign-on runs end to end. Methods return errors or
// record what happened; they never assert.
package ssotest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// User is who the authorization endpoint signs in.
type User struct {
	Subject string
	Email   string
	Groups  []string
}

// Options configure a Provider.
type Options struct {
	// ClientID is the one client the provider knows.
	ClientID string
	// ClientSecret, when set, makes the client confidential: the token
	// endpoint then wants it (Basic auth or client_secret).
	ClientSecret string
	// TokenTTL is the ID tokens' lifetime; default one hour.
	TokenTTL time.Duration
	// NoRefreshTokens makes the token endpoint issue none.
	NoRefreshTokens bool
	// NoEndSession leaves end_session_endpoint out of discovery.
	NoEndSession bool
}

// Provider is a running provider. Its fields are read-only.
type Provider struct {
	// URL is the issuer (https://127.0.0.1:port).
	URL string
	// CAPEM is the PEM of the certificate that signs its TLS.
	CAPEM string

	opts Options
	srv  *httptest.Server
	key  *rsa.PrivateKey
	kid  string

	mu          sync.Mutex
	user        *User
	codes       map[string]grant
	refresh     map[string]User
	refreshes   int
	endSessions []url.Values
	// nonceOverride, when set, replaces the nonce of issued ID tokens.
	nonceOverride string
}

// grant is an authorization code waiting to be exchanged.
type grant struct {
	user        User
	redirectURI string
	challenge   string
	nonce       string
}

// Start runs a provider on a loopback TLS port. Close it when done.
func Start(opts Options) (*Provider, error) {
	if opts.ClientID == "" {
		return nil, fmt.Errorf("ssotest: a ClientID is required")
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("ssotest: generating the signing key: %w", err)
	}
	p := &Provider{opts: opts, key: key, kid: randomString()[:8], codes: map[string]grant{}, refresh: map[string]User{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.keys)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /logout", p.logout)
	p.srv = httptest.NewTLSServer(mux)
	p.URL = p.srv.URL
	p.CAPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw}))
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() { p.srv.Close() }

// HTTPClient trusts the provider's certificate, for the streamer to reach
// it with.
func (p *Provider) HTTPClient() *http.Client { return p.srv.Client() }

// SignIn makes the authorization endpoint approve u from now on; until
// the first call it answers access_denied.
func (p *Provider) SignIn(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = &u
}

// SetTokenTTL changes the lifetime of the ID tokens issued from now on.
func (p *Provider) SetTokenTTL(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.TokenTTL = d
}

// ForgeNonce makes ID tokens carry nonce instead of the one asked for, as
// a replayed or injected token would.
func (p *Provider) ForgeNonce(nonce string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonceOverride = nonce
}

// Refreshes counts the refresh token grants served.
func (p *Provider) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// EndSessions are the queries of the end-session requests so far.
func (p *Provider) EndSessions() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.endSessions)
}

// IDToken signs an ID token for u with this provider's key, as its token
// endpoint would, for audience aud.
func (p *Provider) IDToken(u User, aud, nonce string) (string, error) {
	now := time.Now()
	p.mu.Lock()
	ttl := p.opts.TokenTTL
	p.mu.Unlock()
	claims := map[string]any{
		"iss": p.URL, "aud": aud, "sub": u.Subject, "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"email": u.Email, "email_verified": true, "groups": u.Groups,
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("ssotest: encoding claims: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), p.kid))
	if err != nil {
		return "", fmt.Errorf("ssotest: creating the signer: %w", err)
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("ssotest: signing: %w", err)
	}
	return sig.CompactSerialize()
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	doc := map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"jwks_uri":                              p.URL + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
	}
	if !p.opts.NoEndSession {
		doc["end_session_endpoint"] = p.URL + "/logout"
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) keys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: string(jose.RS256), Use: "sig"},
	}})
}

// authorize approves the configured user at once and redirects back with
// a code, or with an OAuth error when the request is not acceptable.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != p.opts.ClientID || err != nil || redirect.Host == "" {
		http.Error(w, "unknown client_id or bad redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		params.Set("state", q.Get("state"))
		redirect.RawQuery = params.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code" || !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		back(url.Values{"error": {"invalid_request"}, "error_description": {"want response_type=code and scope openid"}})
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE with S256 is required"}})
		return
	}
	p.mu.Lock()
	user := p.user
	code := randomString()
	if user != nil {
		p.codes[code] = grant{user: *user, redirectURI: redirect.String(), challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
	}
	p.mu.Unlock()
	if user == nil {
		back(url.Values{"error": {"access_denied"}, "error_description": {"nobody is signed in at the provider"}})
		return
	}
	back(url.Values{"code": {code}})
}

// token serves the authorization_code (PKCE checked) and refresh_token
// grants.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "bad form")
		return
	}
	if !p.clientAuthenticated(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	var user User
	nonce := ""
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		p.mu.Lock()
		g, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.mu.Unlock()
		if !ok || g.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthError(w, "invalid_grant", "unknown code or redirect_uri")
			return
		}
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
			oauthError(w, "invalid_grant", "code_verifier does not match the code_challenge")
			return
		}
		user, nonce = g.user, g.nonce
	case "refresh_token":
		p.mu.Lock()
		u, ok := p.refresh[r.PostForm.Get("refresh_token")]
		delete(p.refresh, r.PostForm.Get("refresh_token"))
		if ok {
			p.refreshes++
		}
		p.mu.Unlock()
		if !ok {
			oauthError(w, "invalid_grant", "unknown refresh token")
			return
		}
		user = u
	default:
		oauthError(w, "unsupported_grant_type", "")
		return
	}
	p.mu.Lock()
	if p.nonceOverride != "" {
		nonce = p.nonceOverride
	}
	p.mu.Unlock()
	idToken, err := p.IDToken(user, p.opts.ClientID, nonce)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out := map[string]any{"access_token": randomString(), "token_type": "Bearer", "id_token": idToken}
	if !p.opts.NoRefreshTokens {
		rt := randomString()
		p.mu.Lock()
		p.refresh[rt] = user
		p.mu.Unlock()
		out["refresh_token"] = rt
	}
	writeJSON(w, http.StatusOK, out)
}

func (p *Provider) clientAuthenticated(r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == p.opts.ClientID && secret == p.opts.ClientSecret
}

// logout records the request and sends the browser back.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.endSessions = append(p.endSessions, r.URL.Query())
	p.mu.Unlock()
	if back := r.URL.Query().Get("post_logout_redirect_uri"); back != "" {
		http.Redirect(w, r, back, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("signed out\n"))
}

func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
