// Package auth decides who may read which Casts through the streamer.
//
// The streamer's clients (dashboards, CLIs) have no API server access of
// their own, so the streamer must not become a way around RBAC: callers
// present a Kubernetes bearer token, the API server vouches for it
// (TokenReview) and for what its owner may read (SubjectAccessReview), and
// the streamer only relays what RBAC would let them watch directly. Both
// answers are cached so thousands of reconnecting dashboards cost the API
// server a handful of reviews, and per-user and per-IP limits keep one
// client from starving the rest.
package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authentication/user"
	webhooktoken "k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"
	"k8s.io/client-go/kubernetes"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Defaults for AuthenticatorOptions.
const (
	defaultAuthnCacheTTL = 10 * time.Second
	defaultAuthnTimeout  = 10 * time.Second
	// failureCacheTTL is short so a token that starts working (a freshly
	// created ServiceAccount) is usable quickly, yet long enough that a
	// client hammering with a bad token costs one TokenReview per interval.
	failureCacheTTL = 2 * time.Second
)

// ErrUnauthenticated means the API server looked at the token and did not
// accept it (malformed, expired, revoked, meant for another audience). It
// is the caller's problem, answered with 401, as opposed to an outage.
var ErrUnauthenticated = errors.New("unauthenticated")

// Identity is an authenticated caller.
type Identity struct {
	// User is who the API server says the token belongs to; it is what
	// SubjectAccessReviews are asked about.
	User user.Info
	// ExpiresAt lets a stream end (or a session cookie lapse) when the
	// token does instead of outliving it. It is read from the "exp" claim
	// of ServiceAccount tokens after the API server accepted them, and is
	// zero when unknown.
	ExpiresAt time.Time
}

// AuthenticatorOptions configures NewAuthenticator.
type AuthenticatorOptions struct {
	// Client sends the TokenReviews; its credentials need create on
	// tokenreviews.authentication.k8s.io.
	Client kubernetes.Interface
	// Audiences are the token audiences the streamer accepts (flag
	// --token-audiences). Empty means the API server's own audiences, so
	// any token that works with kubectl works here; setting them lets
	// operators hand out tokens that are good for the streamer only.
	Audiences []string
	// CacheTTL is how long an accepted token is trusted without asking
	// again; revoking a token takes up to this long, plus kube-apiserver's
	// own token cache (10s by default), to reach the streamer.
	// Rejections are remembered for 2s (or CacheTTL if shorter). Default 10s.
	CacheTTL time.Duration
	// Timeout bounds one authentication, retries included, so a slow API
	// server makes clients wait a bounded time. Default 10s.
	Timeout time.Duration
	// MaxConcurrentReviews bounds the TokenReviews in flight; cache misses
	// beyond it wait their turn. Default DefaultMaxConcurrentReviews.
	MaxConcurrentReviews int
}

// Authenticator checks bearer tokens with TokenReview, behind a cache that
// is keyed by an HMAC of the token (tokens are never stored or logged).
type Authenticator struct {
	tokens    authenticator.Token
	audiences authenticator.Audiences
	known     *knownTokens
	now       func() time.Time
}

// NewAuthenticator builds the TokenReview authenticator from the same
// pieces k8s.io/apiserver's delegating authenticator uses (webhook token
// authenticator behind the token cache), taken one level down so the
// streamer can authenticate a bare token and count real API calls.
func NewAuthenticator(opts AuthenticatorOptions) (*Authenticator, error) {
	if opts.Client == nil {
		return nil, errors.New("authenticator needs a Kubernetes client for TokenReview")
	}
	if opts.CacheTTL < 0 || opts.Timeout < 0 {
		return nil, fmt.Errorf("authenticator cache TTL (%s) and timeout (%s) must not be negative", opts.CacheTTL, opts.Timeout)
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = defaultAuthnCacheTTL
	}
	if opts.Timeout == 0 {
		opts.Timeout = defaultAuthnTimeout
	}
	auds := authenticator.Audiences(slices.Clone(opts.Audiences))
	reviewer, err := webhooktoken.NewFromInterface(opts.Client.AuthenticationV1(), auds,
		*webhooktoken.DefaultRetryBackoff(), opts.Timeout, webhooktoken.AuthenticatorMetrics{
			RecordRequestTotal:   tokenReviewCalls,
			RecordRequestLatency: ignoreLatency,
		})
	if err != nil {
		return nil, fmt.Errorf("building the TokenReview authenticator: %w", err)
	}
	// Errors (outages) are not cached: the next request asks again.
	reviews := gated{next: rejectionsAreAnswers{reviewer}, gate: newGate(opts.MaxConcurrentReviews)}
	cached := tokencache.New(reviews, false, opts.CacheTTL, min(failureCacheTTL, opts.CacheTTL))
	return &Authenticator{tokens: cached, audiences: auds, known: newKnownTokens(), now: time.Now}, nil
}

// Authenticate checks a bearer token. Errors: ErrUnauthenticated (wrapped)
// for any token the API server rejects; a different error (wrapped) when
// the API server could not be asked (the caller answers 503).
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		recordDecision(stageAuthn, resultDenied)
		return Identity{}, fmt.Errorf("%w: empty token", ErrUnauthenticated)
	}
	if len(a.audiences) > 0 {
		ctx = authenticator.WithAudiences(ctx, a.audiences)
	}
	id, err := a.authenticate(ctx, token)
	if err == nil {
		a.known.remember(token, a.now(), id.ExpiresAt)
	}
	return id, err
}

// Known reports whether this authenticator accepted token within the
// last hour, it has not expired, and nobody called Forget on it since.
// It is no authentication, and costs no API call: it lets the caller
// spare tokens it has seen work from the per-address limit that
// protects TokenReview from made-up ones. Known tokens still go through
// Authenticate.
func (a *Authenticator) Known(token string) bool {
	return token != "" && a.known.known(token)
}

// Forget makes a token unknown again, for the caller to call once it
// takes a rejection as final. (The authenticator cannot tell: during an
// API server's warm-up after an outage, valid tokens are rejected too.)
func (a *Authenticator) Forget(token string) {
	a.known.forget(token)
}

func (a *Authenticator) authenticate(ctx context.Context, token string) (Identity, error) {
	log := logf.FromContext(ctx).WithName("auth")
	resp, ok, err := a.tokens.AuthenticateToken(ctx, token)
	switch {
	case err != nil:
		recordDecision(stageAuthn, resultError)
		log.Info("token review failed", "error", err.Error())
		return Identity{}, fmt.Errorf("asking the API server to review a token: %w", err)
	case !ok || resp == nil || resp.User == nil:
		recordDecision(stageAuthn, resultDenied)
		log.V(1).Info("token rejected")
		return Identity{}, fmt.Errorf("%w: the API server did not accept the token", ErrUnauthenticated)
	}
	id := Identity{User: withAuthenticatedGroup(resp.User)}
	if strings.HasPrefix(id.User.GetName(), serviceaccount.ServiceAccountUsernamePrefix) {
		id.ExpiresAt = jwtExpiry(token)
	}
	// A cached acceptance must not outlive the token itself.
	if !id.ExpiresAt.IsZero() && !a.now().Before(id.ExpiresAt) {
		recordDecision(stageAuthn, resultDenied)
		log.V(1).Info("token expired", "user", id.User.GetName())
		return Identity{}, fmt.Errorf("%w: the token expired at %s", ErrUnauthenticated, id.ExpiresAt.UTC().Format(time.RFC3339))
	}
	recordDecision(stageAuthn, resultAllowed)
	log.V(1).Info("token accepted", "user", id.User.GetName())
	return id, nil
}

// rejectionsAreAnswers sits between the token cache and the webhook. The
// webhook reports "not authenticated, with a reason" as an error, exactly
// like an outage; left alone, rejections would surface as 503s and, since
// errors are not cached, every retry of a bad token would reach the API
// server. A rejection is recognised by the review having been answered
// (2xx) on its last attempt.
type rejectionsAreAnswers struct {
	next authenticator.Token
}

func (r rejectionsAreAnswers) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	rec := &callRecord{}
	resp, ok, err := r.next.AuthenticateToken(withCallRecord(ctx, rec), token)
	if err != nil && answered(rec.code()) {
		return nil, false, nil
	}
	return resp, ok, err
}

// gated lets at most the gate's capacity of TokenReviews run at once (see
// DefaultMaxConcurrentReviews). It sits behind the token cache, so only
// cache misses wait.
type gated struct {
	next authenticator.Token
	gate gate
}

func (g gated) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	if err := g.gate.enter(ctx); err != nil {
		return nil, false, fmt.Errorf("waiting to send a TokenReview: %w", err)
	}
	defer g.gate.leave()
	return g.next.AuthenticateToken(ctx, token)
}

func answered(code string) bool {
	return len(code) == 3 && code[0] == '2'
}

// withAuthenticatedGroup adds system:authenticated as the API server's own
// authentication chain would, so RBAC bindings to that group apply here
// exactly as they do for kubectl.
func withAuthenticatedGroup(u user.Info) user.Info {
	if slices.Contains(u.GetGroups(), user.AllAuthenticated) || u.GetName() == user.Anonymous {
		return u
	}
	return &user.DefaultInfo{
		Name:   u.GetName(),
		UID:    u.GetUID(),
		Groups: append(slices.Clone(u.GetGroups()), user.AllAuthenticated),
		Extra:  u.GetExtra(),
	}
}

// jwtExpiry reads the "exp" claim without checking the signature, which is
// safe only because the API server has already verified the token. It
// returns zero for anything that does not parse.
func jwtExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}
	}
	secs, err := claims.Exp.Float64()
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(secs), 0)
}
