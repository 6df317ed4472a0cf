package streamer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/internal/httpserve"
	"github.com/spell-platform/cast-operator/streamer/admission"
	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// maxSessionBody bounds POST /api/v1/session: a token is a few KiB.
const maxSessionBody = 64 << 10

// call is an API request that passed every stage before its handler.
type call struct {
	id  auth.Identity
	req request
}

// castAPI runs the stages every Cast endpoint goes through, each answering the
// caller itself when it refuses: parse (400) → authenticate (401, or 429
// for a token it does not know from an address that sent too many bad
// ones) → admit (429) → authorize (403) → ready (503) → serve.
func (s *Server) castAPI(serve func(http.ResponseWriter, *http.Request, call)) http.Handler {
	return s.castAPIParsing(parseRequest, serve)
}

// streamAPI is castAPI for the stream endpoints, whose requests also name
// the event types to send (?events=).
func (s *Server) streamAPI(serve func(http.ResponseWriter, *http.Request, call)) http.Handler {
	return s.castAPIParsing(parseStreamRequest, serve)
}

func (s *Server) castAPIParsing(parse func(*http.Request) (request, error), serve func(http.ResponseWriter, *http.Request, call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := parse(r)
		if err != nil {
			httpserve.WriteText(w, http.StatusBadRequest, err.Error())
			return
		}
		id, ok := s.authenticate(w, r)
		if !ok || !s.admit(w, r, id) || !s.authorize(w, r, id, req) || !s.ready(w) {
			return
		}
		serve(w, r, call{id: id, req: req})
	})
}

// identified runs the stages of the session endpoints, which read no Cast:
// authenticate → admit → serve.
func (s *Server) identified(serve func(http.ResponseWriter, *http.Request, auth.Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := s.authenticate(w, r); ok && s.admit(w, r, id) {
			serve(w, r, id)
		}
	})
}

// authenticate finds who is calling. A token the authenticator has seen
// accepted goes straight to it. Any other token (made up, expired, or
// new to this replica) is first admitted per client address, and each
// rejection costs that address budget, so bad tokens cannot flood
// TokenReview, yet cannot lock out valid users who share the address
// (an office NAT, an ingress, a stale browser tab next to a fresh one).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (auth.Identity, bool) {
	ip := s.clientIP(r)
	cred, ok := s.credential(r)
	token := cred.token
	if !ok {
		s.unauthenticated(w, r, ip, "no bearer token or session cookie")
		return auth.Identity{}, false
	}
	if !s.authn.Known(token) && !s.limiter.IPAllowsAttempt(ip) {
		s.tooMany(w, r, s.limiter.IPRetryAfter(ip), "too many requests without a valid token from this address")
		return auth.Identity{}, false
	}
	id, err := s.authn.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated) && s.api.unsettled(r.Context()):
		warmingUp(w)
		return id, false
	case errors.Is(err, auth.ErrUnauthenticated):
		s.authn.Forget(token)
		s.unauthenticated(w, r, ip, "token not accepted: invalid, expired or for another audience")
		return id, false
	case err != nil:
		logf.FromContext(r.Context()).Error(err, "token review failed", "ip", ip)
		httpserve.WriteText(w, http.StatusServiceUnavailable, "cannot verify the token right now, retry shortly")
		return id, false
	}
	if cred.sso {
		id.ExpiresAt = earliest(id.ExpiresAt, cred.expiresAt)
	}
	return id, true
}

// clientIP is the address per-address limits and log lines use: the
// peer, or the client behind it when the peer is a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	return admission.ClientIPBehind(r, s.opts.TrustedProxies)
}

// https reports whether the client's own request was HTTPS: to this
// streamer, or to a trusted proxy in front of it that terminated TLS.
func (s *Server) https(r *http.Request) bool {
	return r.TLS != nil || admission.ForwardedHTTPS(r, s.opts.TrustedProxies)
}

// admit holds each user to their request rate.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, id auth.Identity) bool {
	if ok, after := s.limiter.AllowUser(id.User.GetName()); !ok {
		s.tooMany(w, r, after, fmt.Sprintf("rate limit for %s exceeded", id.User.GetName()))
		return false
	}
	return true
}

func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request, ip, why string) {
	if ok, after := s.limiter.AllowIP(ip); !ok {
		s.tooMany(w, r, after, "too many requests without a valid token from this address")
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="cast-streamer"`)
	httpserve.WriteText(w, http.StatusUnauthorized, why)
}

func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, after time.Duration, why string) {
	secs := max(int((after+time.Second-1)/time.Second), 1)
	requestsRefused.WithLabelValues(reasonRateLimited).Inc()
	logf.FromContext(r.Context()).Info("request refused", "reason", reasonRateLimited, "ip", s.clientIP(r), "path", r.URL.Path)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	httpserve.WriteText(w, http.StatusTooManyRequests, fmt.Sprintf("%s; retry in %ds", why, secs))
}

// request is what a caller asked to read, parsed from the path and query.
type request struct {
	scope  auth.Scope
	filter hub.Filter
}

// parseRequest validates the path values and labelSelector, so a bad one is
// a 400 that says what is wrong.
func parseRequest(r *http.Request) (request, error) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if ns != "" {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return request{}, fmt.Errorf("invalid namespace %q: %s", ns, strings.Join(errs, "; "))
		}
	}
	if name != "" {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return request{}, fmt.Errorf("invalid cast name %q: %s", name, strings.Join(errs, "; "))
		}
	}
	req := request{scope: auth.Scope{Namespace: ns, Name: name}, filter: hub.Filter{Namespace: ns, Name: name}}
	if sel := r.URL.Query().Get("labelSelector"); sel != "" {
		parsed, err := labels.Parse(sel)
		if err != nil {
			return request{}, fmt.Errorf("invalid labelSelector: %w", err)
		}
		req.filter.Selector = parsed
	}
	return req, nil
}

// parseStreamRequest is parseRequest plus the event types a stream sends:
// ?events= (repeatable, comma-separated), every type when absent or empty.
// An unknown type is refused before the stream starts, naming it, rather
// than ignored: a typo would otherwise look like a quiet stream.
func parseStreamRequest(r *http.Request) (request, error) {
	req, err := parseRequest(r)
	if err != nil {
		return req, err
	}
	if vals, ok := r.URL.Query()[wire.EventsParam]; ok {
		if req.filter.Kinds, err = wire.ParseKinds(strings.Join(vals, ",")); err != nil {
			return request{}, err
		}
	}
	return req, nil
}

// authorize asks RBAC whether the caller may read what they asked for.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, id auth.Identity, req request) bool {
	err := s.authz.Authorize(r.Context(), id.User, req.scope)
	switch {
	case err == nil:
		return true
	case errors.Is(err, auth.ErrForbidden) && s.api.unsettled(r.Context()):
		warmingUp(w)
	case errors.Is(err, auth.ErrForbidden):
		requestsRefused.WithLabelValues(reasonForbidden).Inc()
		logf.FromContext(r.Context()).Info("request refused", "reason", reasonForbidden, "user", id.User.GetName(),
			"ip", s.clientIP(r), "scope", scopeString(req.scope))
		httpserve.WriteText(w, http.StatusForbidden, err.Error())
	default:
		logf.FromContext(r.Context()).Error(err, "access review failed", "user", id.User.GetName())
		httpserve.WriteText(w, http.StatusServiceUnavailable, "cannot check permissions right now, retry shortly")
	}
	return false
}

// ready refuses with 503 until the hub has loaded every Cast, so nobody is
// told a Cast does not exist while it is still being listed.
func (s *Server) ready(w http.ResponseWriter) bool {
	if s.hub.Synced() {
		return true
	}
	w.Header().Set("Retry-After", "1")
	httpserve.WriteText(w, http.StatusServiceUnavailable, "the streamer is still loading casts, retry shortly")
	return false
}

// warmingUp answers a refusal that may be the API server's warm-up after
// an outage: clients retry instead of giving up for good.
func warmingUp(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	httpserve.WriteText(w, http.StatusServiceUnavailable, "kube-apiserver is recovering from an outage, retry shortly")
}

func scopeString(sc auth.Scope) string {
	switch {
	case sc.Namespace == "":
		return "all namespaces"
	case sc.Name == "":
		return "namespace " + sc.Namespace
	}
	return "cast " + sc.Namespace + "/" + sc.Name
}

// getCast answers GET .../casts/{name} with the same JSON as stream events.
func (s *Server) getCast(w http.ResponseWriter, _ *http.Request, c call) {
	req := c.req
	data, found := s.hub.Get(types.NamespacedName{Namespace: req.scope.Namespace, Name: req.scope.Name})
	if !found {
		httpserve.WriteText(w, http.StatusNotFound, fmt.Sprintf("cast %s/%s not found", req.scope.Namespace, req.scope.Name))
		return
	}
	writeJSON(w, data)
}

// listCasts answers GET .../casts with {"items": [...]}, for polling
// clients and browsers without EventSource.
func (s *Server) listCasts(w http.ResponseWriter, _ *http.Request, c call) {
	items := s.hub.List(c.req.filter)
	body := make([]byte, 0, 64+len(items)*512)
	body = append(body, `{"items":[`...)
	for i, it := range items {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, it...)
	}
	body = append(body, "]}"...)
	writeJSON(w, body)
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

// createSession exchanges a token (JSON {"token": "..."} body) for an
// HttpOnly cookie, because EventSource cannot send headers and tokens must
// never travel in URLs. The body must be declared JSON: a cross-site form
// can post text/plain that parses as JSON, but cannot send
// application/json without a CORS preflight, so no other site can sign a
// browser in as the attacker (login CSRF).
func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		httpserve.WriteText(w, http.StatusUnsupportedMediaType,
			`want Content-Type: application/json and a JSON body {"token": "<bearer token>"}`)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSessionBody))
	if err != nil {
		httpserve.WriteText(w, http.StatusRequestEntityTooLarge, "session request too large")
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &in); err != nil || strings.TrimSpace(in.Token) == "" {
		httpserve.WriteText(w, http.StatusBadRequest, `want a JSON body {"token": "<bearer token>"}`)
		return
	}
	token := strings.TrimSpace(in.Token)
	r.Header.Set("Authorization", "Bearer "+token)
	s.identified(func(w http.ResponseWriter, _ *http.Request, id auth.Identity) {
		s.endSSOSession(w, r) // one session at a time
		http.SetCookie(w, auth.SessionCookie(token, id.ExpiresAt, s.https(r)))
		s.writeIdentity(w, id, false)
	}).ServeHTTP(w, r)
}

// deleteSession signs out: it clears the session cookies and, for a
// single sign-on session at a provider that supports it, answers
// {"endSessionURL": ...} for the dashboard to sign out there too.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, auth.ClearSessionCookie(s.https(r)))
	if end := s.endSSOSession(w, r); end != "" {
		b, _ := json.Marshal(struct {
			EndSessionURL string `json:"endSessionURL"`
		}{end})
		writeJSON(w, b)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// whoAmI tells a dashboard who is signed in, and how many of the caller's
// streams this replica holds: EventSource hides a stream's 429, and the
// JSON endpoints a dashboard asks instead are not bound by stream slots,
// so this is how it learns that too many streams are open.
func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request, id auth.Identity) {
	cred, _ := s.credential(r)
	s.writeIdentity(w, id, cred.sso)
}

// streamCount is a user's open streams on this replica, and the most allowed.
type streamCount struct {
	Open int `json:"open"`
	Max  int `json:"max"`
}

// writeIdentity answers who is signed in; sso tells the dashboard the
// session came from single sign-on, so it renews it before expiresAt.
func (s *Server) writeIdentity(w http.ResponseWriter, id auth.Identity, sso bool) {
	out := struct {
		User      string      `json:"user"`
		Groups    []string    `json:"groups"`
		ExpiresAt *time.Time  `json:"expiresAt,omitempty"`
		SSO       bool        `json:"sso,omitempty"`
		Streams   streamCount `json:"streams"`
	}{User: id.User.GetName(), Groups: id.User.GetGroups(), SSO: sso, Streams: streamCount{
		Open: s.limiter.OpenStreams(id.User.GetName()), Max: s.limiter.MaxStreams(),
	}}
	if !id.ExpiresAt.IsZero() {
		out.ExpiresAt = &id.ExpiresAt
	}
	b, _ := json.Marshal(out)
	writeJSON(w, b)
}
