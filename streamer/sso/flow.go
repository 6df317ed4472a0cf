package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// What can go wrong in a sign-in, each answered with its own status.
var (
	// ErrFlow: the callback does not belong to a sign-in this browser
	// started (no or expired flow cookie, state mismatch, no code); 400.
	ErrFlow = errors.New("sign-in not recognised")
	// ErrDenied: the provider refused the sign-in (the user cancelled,
	// the client may not be used); 401.
	ErrDenied = errors.New("the identity provider refused the sign-in")
	// ErrProvider: the provider answered with something unusable (code
	// exchange refused, ID token missing or not verifying); 502.
	ErrProvider = errors.New("the identity provider's answer cannot be used")
	// ErrNoRefresh: the session cannot be renewed (no refresh token, too
	// old, refused by the provider); the user signs in again; 401.
	ErrNoRefresh = errors.New("the session cannot be renewed: sign in again")
)

// Tokens are what a sign-in or a refresh yields.
type Tokens struct {
	// IDToken is the raw, verified ID token.
	IDToken string
	// Expiry is the ID token's "exp".
	Expiry time.Time
	// Subject is the ID token's "sub"; a refresh must not change it.
	Subject string
	// RefreshToken is empty when the provider gave none.
	RefreshToken string
	// Since is when the user signed in at the provider.
	Since time.Time
}

// maxProviderError bounds the provider's error text repeated to the user.
const maxProviderError = 200

// Begin starts a sign-in: it sets the flow cookie on w and returns the
// provider's authorization URL to send the browser to.
func (c *Client) Begin(ctx context.Context, w http.ResponseWriter, secure bool) (string, error) {
	p, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	f := flowState{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier()}
	value, err := c.seal.seal(flowCookieName, f, c.opts.Now().Add(FlowTTL))
	if err != nil {
		return "", err
	}
	http.SetCookie(w, c.cookie(flowCookieName, oidcPath, value, http.SameSiteLaxMode, c.opts.Now().Add(FlowTTL), secure))
	return c.oauth2Config(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), nil
}

// Finish completes a sign-in from the provider's redirect r: it checks
// the state against the flow cookie, exchanges the code with the PKCE
// verifier and verifies the ID token (signature, issuer, audience,
// expiry, nonce). The caller clears the flow cookie whatever happens.
func (c *Client) Finish(ctx context.Context, r *http.Request) (Tokens, error) {
	var f flowState
	ck, err := r.Cookie(flowCookieName)
	if err != nil || c.seal.open(flowCookieName, ck.Value, &f) != nil {
		return Tokens{}, fmt.Errorf("%w: no sign-in is in progress in this browser (it takes at most %s, and needs cookies): start again", ErrFlow, FlowTTL)
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return Tokens{}, fmt.Errorf("%w: the answer is for another sign-in (started in another tab?): start again", ErrFlow)
	}
	if e := q.Get("error"); e != "" {
		return Tokens{}, fmt.Errorf("%w: %s", ErrDenied, clip(strings.TrimSpace(e+": "+q.Get("error_description")), maxProviderError))
	}
	code := q.Get("code")
	if code == "" {
		return Tokens{}, fmt.Errorf("%w: the provider sent no authorization code", ErrFlow)
	}
	p, err := c.discover(ctx)
	if err != nil {
		return Tokens{}, err
	}
	ctx = c.clientContext(ctx)
	tok, err := c.oauth2Config(p).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Tokens{}, fmt.Errorf("%w: exchanging the code: %w", ErrProvider, err)
	}
	t, err := c.verify(ctx, p, tok, "")
	if err != nil {
		return Tokens{}, err
	}
	if t.nonce != f.Nonce {
		return Tokens{}, fmt.Errorf("%w: the ID token's nonce is not this sign-in's", ErrProvider)
	}
	t.Since = c.opts.Now()
	return t.Tokens, nil
}

// Refresh renews the session of r with its refresh token and returns the
// new tokens, which must be for the same subject.
func (c *Client) Refresh(ctx context.Context, r *http.Request) (Tokens, error) {
	var st refreshState
	ck, err := r.Cookie(refreshCookieName)
	if err != nil || c.seal.open(refreshCookieName, ck.Value, &st) != nil {
		return Tokens{}, fmt.Errorf("%w (the provider gave no refresh token, or the session is older than %s)", ErrNoRefresh, MaxSessionAge)
	}
	p, err := c.discover(ctx)
	if err != nil {
		return Tokens{}, err
	}
	ctx = c.clientContext(ctx)
	tok, err := c.oauth2Config(p).TokenSource(ctx, &oauth2.Token{RefreshToken: st.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < http.StatusInternalServerError:
		return Tokens{}, fmt.Errorf("%w (the provider refused the refresh token: %s)", ErrNoRefresh, clip(re.ErrorCode, maxProviderError))
	case err != nil:
		return Tokens{}, fmt.Errorf("%w: refreshing the session: %w", ErrProvider, err)
	}
	t, err := c.verify(ctx, p, tok, st.Subject)
	if err != nil {
		return Tokens{}, err
	}
	t.Since = st.Since
	return t.Tokens, nil
}

// verified is a verified token response and the ID token's nonce.
type verified struct {
	Tokens
	nonce string
}

// verify checks the ID token of tok; subject, when set, must match.
func (c *Client) verify(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, subject string) (verified, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return verified{}, fmt.Errorf("%w: it holds no ID token (is the openid scope allowed for client %s?)", ErrProvider, c.opts.ClientID)
	}
	idt, err := c.verifier(p).Verify(ctx, raw)
	if err != nil {
		return verified{}, fmt.Errorf("%w: the ID token does not verify: %w", ErrProvider, err)
	}
	if subject != "" && idt.Subject != subject {
		return verified{}, fmt.Errorf("%w: the refreshed ID token is for another subject", ErrProvider)
	}
	return verified{Tokens: Tokens{IDToken: raw, Expiry: idt.Expiry, Subject: idt.Subject, RefreshToken: tok.RefreshToken}, nonce: idt.Nonce}, nil
}

// EndSessionURL is where to send the browser to sign out at the provider
// too, or "" when its discovery document advertises no
// end_session_endpoint (or it cannot be reached: the local sign-out
// stands anyway). It names the client and the dashboard to come back
// to, and no ID token: the ID token is a credential for the cluster and
// does not belong in a URL.
func (c *Client) EndSessionURL(ctx context.Context) string {
	p, err := c.discover(ctx)
	if err != nil {
		return ""
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.EndSession == "" {
		return ""
	}
	u, err := url.Parse(meta.EndSession)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	q := u.Query()
	q.Set("client_id", c.opts.ClientID)
	q.Set("post_logout_redirect_uri", c.home)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clip shortens s to n runes, so a provider's text cannot flood a page.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
