package sso

import (
	"fmt"
	"net/http"
	"time"
)

// The cookies single sign-on uses. All are HttpOnly and sealed (seal.go),
// and Secure when the dashboard is served over HTTPS.
const (
	// SessionCookieName holds the ID token, which the streamer then
	// treats like a pasted token. SameSite=Strict and Path=/api/ like
	// the pasted-token session cookie: only the dashboard's own API
	// calls carry it.
	SessionCookieName = "cast_sso"
	// refreshCookieName holds the refresh token, sent only to the refresh
	// endpoint (Path=/api/v1/oidc/), never with ordinary API calls.
	refreshCookieName = "cast_sso_refresh"
	// flowCookieName holds state, nonce and PKCE verifier while the
	// browser is at the provider. It is SameSite=Lax because the
	// provider's redirect back is a cross-site navigation, which Strict
	// cookies do not go along with.
	flowCookieName = "cast_sso_flow"

	sessionPath = "/api/"
	oidcPath    = "/api/v1/oidc/"

	// FlowTTL is how long a user has at the provider to sign in.
	FlowTTL = 10 * time.Minute
	// MaxSessionAge ends a session this long after its sign-in, however
	// long the provider keeps refreshing it: refresh tokens of some
	// providers never expire, and a sealed cookie outlives none of the
	// streamer's checks but this one.
	MaxSessionAge = 12 * time.Hour
	// maxCookieBytes is what browsers keep of one cookie (name, value
	// and attributes); larger ones are silently dropped.
	maxCookieBytes = 4096
)

// Session is what the session cookie holds.
type Session struct {
	// IDToken is the bearer token the streamer reviews on every request.
	IDToken string `json:"t"`
	// Expiry is when the session ends (Tokens.SessionEnd), so streams
	// end and the dashboard renews the session before it lapses.
	Expiry time.Time `json:"e"`
}

// SessionEnd is when the session these tokens make ends: when the ID
// token expires, or MaxSessionAge after the sign-in if that is sooner.
// Providers issue ID tokens for as long as they like (Dex: 24 hours), and
// MaxSessionAge must bound the session cookie too, not only the refresh.
func (t Tokens) SessionEnd() time.Time {
	if t.Since.IsZero() {
		return t.Expiry
	}
	if end := t.Since.Add(MaxSessionAge); t.Expiry.IsZero() || end.Before(t.Expiry) {
		return end
	}
	return t.Expiry
}

// refreshState is what the refresh cookie holds.
type refreshState struct {
	RefreshToken string    `json:"r"`
	Subject      string    `json:"s"`
	Since        time.Time `json:"since"`
}

// flowState is what the flow cookie holds.
type flowState struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

// SessionCookies are the cookies a sign-in or a refresh sets: the session
// (until t.SessionEnd) and, when the provider gave one, the refresh token
// (until MaxSessionAge after the sign-in). An error means a cookie would
// be too large for browsers to keep.
func (c *Client) SessionCookies(t Tokens, secure bool) ([]*http.Cookie, error) {
	ends := t.SessionEnd()
	value, err := c.seal.seal(SessionCookieName, Session{IDToken: t.IDToken, Expiry: ends}, ends)
	if err != nil {
		return nil, err
	}
	session := c.cookie(SessionCookieName, sessionPath, value, http.SameSiteStrictMode, ends, secure)
	out := []*http.Cookie{session}
	end := t.Since.Add(MaxSessionAge)
	if t.RefreshToken == "" {
		out = append(out, expired(refreshCookieName, oidcPath, http.SameSiteStrictMode, secure))
	} else {
		value, err := c.seal.seal(refreshCookieName, refreshState{RefreshToken: t.RefreshToken, Subject: t.Subject, Since: t.Since}, end)
		if err != nil {
			return nil, err
		}
		out = append(out, c.cookie(refreshCookieName, oidcPath, value, http.SameSiteStrictMode, end, secure))
	}
	for _, ck := range out {
		if n := len(ck.String()); n > maxCookieBytes {
			return nil, fmt.Errorf("%w: the %s cookie would be %d bytes, more than browsers keep (%d); "+
				"have the provider put fewer claims (groups, roles) in the ID token", ErrProvider, ck.Name, n, maxCookieBytes)
		}
	}
	return out, nil
}

// ClearCookies end a single sign-on session in the browser: every cookie
// with the same path and attributes, expired.
func ClearCookies(secure bool) []*http.Cookie {
	return []*http.Cookie{
		expired(SessionCookieName, sessionPath, http.SameSiteStrictMode, secure),
		expired(refreshCookieName, oidcPath, http.SameSiteStrictMode, secure),
		ClearFlowCookie(secure),
	}
}

// ClearFlowCookie ends a sign-in in flight, done or failed.
func ClearFlowCookie(secure bool) *http.Cookie {
	return expired(flowCookieName, oidcPath, http.SameSiteLaxMode, secure)
}

// SessionFrom opens the session cookie of r; false when there is none or
// it does not open (another key, expired, tampered).
func (c *Client) SessionFrom(r *http.Request) (Session, bool) {
	var s Session
	ck, err := r.Cookie(SessionCookieName)
	if err != nil || ck.Value == "" || c.seal.open(SessionCookieName, ck.Value, &s) != nil || s.IDToken == "" {
		return Session{}, false
	}
	return s, true
}

// HasSession reports whether r carries a session cookie at all, even one
// that no longer opens: signing out must still clear it.
func HasSession(r *http.Request) bool {
	ck, err := r.Cookie(SessionCookieName)
	return err == nil && ck.Value != ""
}

func (c *Client) cookie(name, path, value string, sameSite http.SameSite, expires time.Time, secure bool) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: secure, SameSite: sameSite}
	if !expires.IsZero() {
		ck.Expires = expires.UTC()
		ck.MaxAge = max(int(expires.Sub(c.opts.Now()).Seconds()), 1)
	}
	return ck
}

func expired(name, path string, sameSite http.SameSite, secure bool) *http.Cookie {
	return &http.Cookie{Name: name, Path: path, HttpOnly: true, Secure: secure, SameSite: sameSite,
		Expires: time.Unix(0, 0).UTC(), MaxAge: -1}
}
