// Package sso lets the dashboard sign in through the organisation's
// OpenID Connect provider instead of a pasted token: the streamer runs the
// authorization code flow with PKCE as an OIDC client and keeps the ID
// token it receives in a sealed HttpOnly cookie.
//
// The package only runs the flow and keeps the cookies. It decides nobody's
// identity: the ID token is checked here (signature, issuer, audience,
// nonce) merely so a forged callback cannot plant a token, and the
// streamer then treats it exactly like a pasted token, asking the API
// server with TokenReview who it belongs to. So the cluster's own OIDC
// configuration (kube-apiserver's --authentication-config) decides who
// someone is, and RBAC what they see; a provider the cluster does not
// trust signs nobody in.
package sso

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// CallbackPath is where the provider sends the browser back: the
// redirect URL registered with the provider must end with it.
const CallbackPath = "/api/v1/oidc/callback"

// Timeouts and bounds of the calls to the provider.
const (
	// ProviderTimeout bounds one request to the provider (discovery,
	// keys, token exchange), body included.
	ProviderTimeout = 10 * time.Second
	// providerTLSHandshakeTimeout and providerResponseHeaderTimeout fail a
	// stuck provider sooner than ProviderTimeout would.
	providerTLSHandshakeTimeout   = 5 * time.Second
	providerResponseHeaderTimeout = 8 * time.Second
	// MaxProviderBody bounds what the streamer reads of one answer from
	// the provider; discovery documents and key sets are a few KiB.
	MaxProviderBody = 1 << 20
	// rediscoverAfter is how long a failed discovery is remembered before
	// the next sign-in asks the provider again.
	rediscoverAfter = 5 * time.Second
)

// DefaultScopes are asked for when Options.Scopes is empty. "openid" is
// always asked for; providers issue refresh tokens on their own terms
// (Dex wants "offline_access").
var DefaultScopes = []string{oidc.ScopeOpenID, "email", "profile"}

// Options configure single sign-on; a zero IssuerURL turns it off.
type Options struct {
	// IssuerURL is the provider's issuer, as in its discovery document
	// and in the API server's authentication configuration.
	IssuerURL string
	// ClientID is the client registered with the provider; the ID tokens
	// it gets carry it as their audience, which the API server must
	// accept.
	ClientID string
	// ClientSecret makes the streamer a confidential client; empty means
	// a public client, protected by PKCE alone.
	ClientSecret string
	// RedirectURL is the dashboard's public URL plus CallbackPath, as
	// registered with the provider.
	RedirectURL string
	// Scopes asked for; empty means DefaultScopes.
	Scopes []string
	// SessionKey seals the cookies; replicas behind one load balancer
	// need the same key. Empty means a random key per process: sessions
	// then end when the process restarts and do not work across replicas.
	SessionKey []byte
	// RootCAs verify the provider's TLS certificate; nil means the
	// system's roots. Ignored when HTTPClient is set.
	RootCAs *x509.CertPool
	// HTTPClient reaches the provider; nil means one with RootCAs and
	// the timeouts above. Its responses are bounded to MaxProviderBody
	// either way.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Enabled reports whether single sign-on is configured.
func (o Options) Enabled() bool { return o.IssuerURL != "" }

// Validate says what is wrong with the options, in the flags' words.
func (o Options) Validate() error {
	var errs []error
	if u, err := url.Parse(o.IssuerURL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("--oidc-issuer-url %q must be an https:// URL", o.IssuerURL))
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("--oidc-client-id is required with --oidc-issuer-url"))
	}
	u, err := url.Parse(o.RedirectURL)
	switch {
	case o.RedirectURL == "":
		errs = append(errs, fmt.Errorf("--oidc-redirect-url is required with --oidc-issuer-url: the dashboard's public URL followed by %s", CallbackPath))
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.HasSuffix(u.Path, CallbackPath):
		errs = append(errs, fmt.Errorf("--oidc-redirect-url %q must be an http(s) URL ending in %s", o.RedirectURL, CallbackPath))
	}
	if len(o.SessionKey) > 0 && len(o.SessionKey) < MinSessionKeyBytes {
		errs = append(errs, fmt.Errorf("the session key has %d bytes, want at least %d", len(o.SessionKey), MinSessionKeyBytes))
	}
	return errors.Join(errs...)
}

// Client is the streamer's side of the sign-in: it starts and finishes the
// code flow, refreshes the ID token and seals the cookies that hold it.
type Client struct {
	opts   Options
	seal   *sealer
	http   *http.Client
	scopes []string
	// home is where the browser lands after signing in or out: the
	// dashboard, i.e. RedirectURL without CallbackPath.
	home string

	// discovery runs one discovery fetch for every caller waiting.
	discovery singleflight.Group

	mu         sync.Mutex
	provider   *oidc.Provider
	failedAt   time.Time
	discoverEr error
}

// New checks opts and returns a Client. It does not reach the provider:
// discovery happens at the first sign-in and is retried until it works,
// so a provider outage at start-up costs single sign-on, not the streamer.
func New(opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s, err := newSealer(opts.SessionKey, opts.Now)
	if err != nil {
		return nil, err
	}
	scopes := slices.Clone(opts.Scopes)
	if len(scopes) == 0 {
		scopes = slices.Clone(DefaultScopes)
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	return &Client{
		opts:   opts,
		seal:   s,
		http:   boundedClient(opts.HTTPClient, opts.RootCAs),
		scopes: scopes,
		home:   strings.TrimSuffix(opts.RedirectURL, CallbackPath) + "/",
	}, nil
}

// Home is the dashboard's URL, where the browser goes after the flow.
func (c *Client) Home() string { return c.home }

// ErrProviderUnavailable means the provider could not be asked (down,
// discovery broken); the caller answers 503.
var ErrProviderUnavailable = errors.New("the identity provider is unavailable")

// discover returns the provider, fetching its discovery document once.
// One fetch runs at a time and every caller meanwhile shares it, each
// waiting only as long as its own request lasts: during a provider outage
// sign-ins, refreshes and sign-outs are not queued behind one another's
// ProviderTimeout.
func (c *Client) discover(ctx context.Context) (*oidc.Provider, error) {
	if p, ok, err := c.discovered(); ok {
		return p, err
	}
	// The provider keeps the fetch's context for fetching keys later, so
	// it is not the request's; ProviderTimeout bounds each fetch instead.
	fetch := context.WithoutCancel(ctx)
	ch := c.discovery.DoChan("discover", func() (any, error) {
		// A fetch that ended just before this one started has answered.
		if p, ok, err := c.discovered(); ok {
			return p, err
		}
		p, err := oidc.NewProvider(oidc.ClientContext(fetch, c.http), c.opts.IssuerURL)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.failedAt, c.discoverEr = c.opts.Now(), fmt.Errorf("%w: discovery at %s failed: %w", ErrProviderUnavailable, c.opts.IssuerURL, err)
			return nil, c.discoverEr
		}
		c.provider = p
		return p, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*oidc.Provider), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: still waiting for discovery at %s: %w", ErrProviderUnavailable, c.opts.IssuerURL, context.Cause(ctx))
	}
}

// discovered is what discovery found, or its error while a failure is
// remembered; ok is false when it is time to ask the provider.
func (c *Client) discovered() (p *oidc.Provider, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, true, nil
	}
	if !c.failedAt.IsZero() && c.opts.Now().Sub(c.failedAt) < rediscoverAfter {
		return nil, true, c.discoverEr
	}
	return nil, false, nil
}

// oauth2Config is the code flow's configuration for provider p.
func (c *Client) oauth2Config(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	if c.opts.ClientSecret == "" {
		// A public client sends its id in the body and no secret.
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     c.opts.ClientID,
		ClientSecret: c.opts.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  c.opts.RedirectURL,
		Scopes:       c.scopes,
	}
}

func (c *Client) verifier(p *oidc.Provider) *oidc.IDTokenVerifier {
	return p.Verifier(&oidc.Config{ClientID: c.opts.ClientID, Now: c.opts.Now})
}

// clientContext carries the provider's HTTP client to oauth2 and go-oidc.
func (c *Client) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.http)
}

// boundedClient is base (or a default client with named timeouts) whose
// response bodies are cut off after MaxProviderBody, since go-oidc reads
// them whole.
func boundedClient(base *http.Client, roots *x509.CertPool) *http.Client {
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSHandshakeTimeout = providerTLSHandshakeTimeout
		tr.ResponseHeaderTimeout = providerResponseHeaderTimeout
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
		base = &http.Client{Transport: tr, Timeout: ProviderTimeout}
	}
	c := *base
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	if c.Timeout == 0 {
		c.Timeout = ProviderTimeout
	}
	c.Transport = boundedTransport{next: next}
	return &c
}

// boundedTransport limits every response body to MaxProviderBody bytes.
type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, MaxProviderBody+1), c: resp.Body}
	return resp, nil
}

// errBodyTooLarge is what reading past MaxProviderBody returns.
var errBodyTooLarge = fmt.Errorf("the identity provider's answer is larger than %d bytes", MaxProviderBody)

type limitedBody struct {
	r    io.Reader
	c    io.Closer
	read int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > MaxProviderBody {
		return n, errBodyTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }
