package streamer

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/internal/httpserve"
	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/sso"
)

// credential is the bearer token a request carries and where from.
type credential struct {
	token string
	// sso: from the single sign-on cookie, whose ID token expires at
	// expiresAt.
	sso       bool
	expiresAt time.Time
}

// credential finds the request's token: the Authorization header, the
// pasted-token session cookie, or the single sign-on cookie. All three
// are reviewed the same way afterwards.
func (s *Server) credential(r *http.Request) (credential, bool) {
	if token, _, ok := auth.TokenFrom(r); ok {
		return credential{token: token}, true
	}
	if s.sso != nil {
		if sess, ok := s.sso.SessionFrom(r); ok {
			return credential{token: sess.IDToken, sso: true, expiresAt: sess.Expiry}, true
		}
	}
	return credential{}, false
}

// signInMethods tells the sign-in page which ways in this streamer offers;
// it needs no token, since nobody is signed in yet.
func (s *Server) signInMethods(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, fmt.Appendf(nil, `{"token":true,"sso":%t}`, s.sso != nil))
}

// ssoOn answers 404 when single sign-on is not configured.
func (s *Server) ssoOn(w http.ResponseWriter) bool {
	if s.sso == nil {
		httpserve.WriteText(w, http.StatusNotFound, "single sign-on is not configured on this streamer (--oidc-issuer-url)")
		return false
	}
	return true
}

// ssoLogin sends the browser to the identity provider.
func (s *Server) ssoLogin(w http.ResponseWriter, r *http.Request) {
	if !s.ssoOn(w) {
		return
	}
	target, err := s.sso.Begin(r.Context(), w, s.ssoSecure(r))
	if err != nil {
		logf.FromContext(r.Context()).Error(err, "single sign-on cannot start")
		signInFailed(w, http.StatusServiceUnavailable, "The identity provider cannot be reached right now. Try again shortly, or paste a token.", s.sso.Home())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// ssoCallback finishes the sign-in the provider sends the browser back
// from. The ID token is then reviewed like a pasted token: the session
// starts only if kube-apiserver accepts it.
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the code
	if !s.ssoOn(w) {
		return
	}
	secure, home, log := s.ssoSecure(r), s.sso.Home(), logf.FromContext(r.Context())
	http.SetCookie(w, sso.ClearFlowCookie(secure))
	if ok, after := s.limiter.AllowIP(s.clientIP(r)); !ok {
		s.tooMany(w, r, after, "too many sign-ins from this address")
		return
	}
	tok, err := s.sso.Finish(r.Context(), r)
	if err != nil {
		status := ssoStatus(err)
		if status >= http.StatusInternalServerError {
			log.Error(err, "single sign-on failed")
		}
		signInFailed(w, status, "Sign-in failed: "+err.Error(), home)
		return
	}
	id, err := s.authn.Authenticate(r.Context(), tok.IDToken)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated) && s.api.unsettled(r.Context()):
		signInFailed(w, http.StatusServiceUnavailable, "kube-apiserver is recovering from an outage. Try again shortly.", home)
		return
	case errors.Is(err, auth.ErrUnauthenticated):
		s.authn.Forget(tok.IDToken)
		log.Info("single sign-on refused", "reason", "token review rejected the ID token", "issuer", s.opts.SSO.IssuerURL)
		signInFailed(w, http.StatusUnauthorized, fmt.Sprintf("The cluster did not accept this sign-in: kube-apiserver does not accept ID tokens "+
			"from %s for client %s. Its --authentication-config must list this issuer and audience.", s.opts.SSO.IssuerURL, s.opts.SSO.ClientID), home)
		return
	case err != nil:
		log.Error(err, "token review failed", "ip", s.clientIP(r))
		signInFailed(w, http.StatusServiceUnavailable, "The sign-in cannot be verified right now. Try again shortly.", home)
		return
	}
	cookies, err := s.sso.SessionCookies(tok, secure)
	if err != nil {
		log.Error(err, "single sign-on failed", "user", id.User.GetName())
		signInFailed(w, http.StatusBadGateway, "Sign-in failed: "+err.Error(), home)
		return
	}
	for _, c := range cookies {
		http.SetCookie(w, c)
	}
	http.SetCookie(w, auth.ClearSessionCookie(secure)) // one session at a time
	http.Redirect(w, r, home, http.StatusSeeOther)
}

// ssoRefresh renews a single sign-on session with the provider's refresh
// token before the ID token expires; the new ID token is reviewed again.
// Its route requires wire.ActionHeader: the refresh cookie is
// SameSite=Strict, but same-site pages (sibling subdomains) would still
// send it with a form. Each refresh costs the client address budget before
// the provider is asked, so a refresh cookie cannot make the streamer
// hammer the provider's token endpoint, which throttles the client ID for
// everyone.
func (s *Server) ssoRefresh(w http.ResponseWriter, r *http.Request) {
	if !s.ssoOn(w) {
		return
	}
	if ok, after := s.limiter.AllowIP(s.clientIP(r)); !ok {
		s.tooMany(w, r, after, "too many session renewals from this address")
		return
	}
	tok, err := s.sso.Refresh(r.Context(), r)
	if err != nil {
		status := ssoStatus(err)
		if status >= http.StatusInternalServerError {
			logf.FromContext(r.Context()).Error(err, "single sign-on refresh failed")
		}
		httpserve.WriteText(w, status, err.Error())
		return
	}
	secure := s.ssoSecure(r)
	r.Header.Set("Authorization", "Bearer "+tok.IDToken)
	s.identified(func(w http.ResponseWriter, _ *http.Request, id auth.Identity) {
		cookies, err := s.sso.SessionCookies(tok, secure)
		if err != nil {
			httpserve.WriteText(w, http.StatusBadGateway, err.Error())
			return
		}
		for _, c := range cookies {
			http.SetCookie(w, c)
		}
		id.ExpiresAt = earliest(id.ExpiresAt, tok.SessionEnd())
		s.writeIdentity(w, id, true)
	}).ServeHTTP(w, r)
}

// endSSOSession clears the single sign-on cookies on w and returns where
// to sign out at the provider too ("" when it offers no end session, or
// the request had no single sign-on session).
func (s *Server) endSSOSession(w http.ResponseWriter, r *http.Request) string {
	if s.sso == nil {
		return ""
	}
	for _, c := range sso.ClearCookies(s.ssoSecure(r)) {
		http.SetCookie(w, c)
	}
	if !sso.HasSession(r) {
		return ""
	}
	return s.sso.EndSessionURL(r.Context())
}

// ssoSecure reports whether the single sign-on cookies are Secure: when
// the request reached this streamer (or a trusted proxy) over HTTPS, and
// whenever the dashboard's public URL (--oidc-redirect-url) is https://,
// as behind a TLS ingress missing from --trusted-proxies, which would
// otherwise look like plain HTTP.
func (s *Server) ssoSecure(r *http.Request) bool {
	return s.https(r) || strings.HasPrefix(strings.ToLower(s.opts.SSO.RedirectURL), "https://")
}

// ssoStatus is the HTTP status of a sign-in error.
func ssoStatus(err error) int {
	switch {
	case errors.Is(err, sso.ErrFlow):
		return http.StatusBadRequest
	case errors.Is(err, sso.ErrDenied), errors.Is(err, sso.ErrNoRefresh):
		return http.StatusUnauthorized
	case errors.Is(err, sso.ErrProviderUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// earliest is the earlier of two expiries, zero meaning unknown.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// signInFailedPage is what a browser sees when single sign-on fails: the
// reason, and the way back to the sign-in form. No script, no style.
var signInFailedPage = template.Must(template.New("failed").Parse(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in failed · Casts</title>
<h1>Sign-in failed</h1>
<p id="signin-failure" role="alert">{{.Message}}</p>
<p><a href="{{.Home}}">Back to the dashboard</a></p>
</html>
`))

func signInFailed(w http.ResponseWriter, status int, msg, home string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = signInFailedPage.Execute(w, struct{ Message, Home string }{msg, home})
}
