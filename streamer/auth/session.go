package auth

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// CookieName is the browser session cookie. Browsers need it because
// EventSource cannot send an Authorization header, and a token in the URL
// would end up in proxy logs and browser history.
const CookieName = "cast_session"

// sessionPath limits the cookie to the API, so static pages and anything
// else on the host never see the token.
const sessionPath = "/api/"

// SessionCookie returns the cookie POST /api/v1/session sets. It holds the
// token itself, so the streamer stays stateless across replicas and every
// request is still checked by TokenReview; HttpOnly keeps it from scripts,
// SameSite=Strict from cross-site requests (CSRF), Secure from plain HTTP
// when the streamer is served over TLS. It lapses with the token when
// expiresAt is known and lasts for the browser session otherwise.
// Kubernetes tokens are cookie-safe; for any other token check c.Valid()
// before setting it, because net/http drops (and logs) bytes a cookie
// cannot carry.
func SessionCookie(token string, expiresAt time.Time, secure bool) *http.Cookie {
	c := sessionCookie(token, secure)
	if !expiresAt.IsZero() {
		c.Expires = expiresAt.UTC()
		c.MaxAge = int(math.Ceil(time.Until(expiresAt).Seconds()))
		if c.MaxAge <= 0 {
			// Already expired: tell the browser to drop it now
			// (net/http writes a negative MaxAge as "Max-Age=0").
			c.MaxAge = -1
		}
	}
	return c
}

// ClearSessionCookie is what DELETE /api/v1/session sets; its attributes
// must match the session cookie's or browsers keep the old one.
func ClearSessionCookie(secure bool) *http.Cookie {
	c := sessionCookie("", secure)
	c.Expires = time.Unix(0, 0).UTC()
	c.MaxAge = -1
	return c
}

func sessionCookie(value string, secure bool) *http.Cookie {
	return &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     sessionPath,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
	}
}

// TokenFrom takes the bearer token from "Authorization: Bearer <t>" (the
// scheme is case-insensitive, as in RFC 7235) or, failing that, from the
// session cookie, so CLIs and browsers share one code path. An
// Authorization header that is not a well-formed bearer token (another
// scheme, no token, spaces inside) is ignored like the API server does,
// leaving the cookie to decide. ok is false when neither holds a token.
func TokenFrom(r *http.Request) (token string, fromCookie bool, ok bool) {
	if t, found := bearerToken(r.Header.Get("Authorization")); found {
		return t, false, true
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		return c.Value, true, true
	}
	return "", false, false
}

func bearerToken(header string) (string, bool) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token := strings.TrimSpace(rest)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
