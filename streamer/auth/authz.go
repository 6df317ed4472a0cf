package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	authorizationcel "k8s.io/apiserver/pkg/authorization/cel"
	webhookauthz "k8s.io/apiserver/plugin/pkg/authorizer/webhook"
	"k8s.io/client-go/kubernetes"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// What RBAC rules must name to let a caller read Casts.
var (
	castResource = "casts"
	castGroup    = castv1alpha1.GroupVersion.Group
)

// Defaults for AuthorizerOptions.
const (
	defaultAllowTTL = 10 * time.Second
	defaultDenyTTL  = 10 * time.Second
)

// ErrForbidden means the API server answered and RBAC does not let the
// caller read what they asked for: 403, not an outage.
var ErrForbidden = errors.New("forbidden")

// Scope is what a stream or JSON request reads.
type Scope struct {
	// Namespace is "" for all namespaces.
	Namespace string
	// Name is "" for a collection.
	Name string
}

// verbs are what RBAC must allow for the streamer to serve the scope
// without showing more than `kubectl get --watch` would: a stream is an
// initial read followed by a watch.
func (s Scope) verbs() []string {
	if s.Name != "" {
		return []string{"get", "watch"}
	}
	return []string{"list", "watch"}
}

// AuthorizerOptions configures NewAuthorizer.
type AuthorizerOptions struct {
	// Client sends the SubjectAccessReviews; its credentials need create
	// on subjectaccessreviews.authorization.k8s.io.
	Client kubernetes.Interface
	// AllowTTL is how long a grant is trusted; removing a RoleBinding
	// takes up to this long to close new requests. Default 10s.
	AllowTTL time.Duration
	// DenyTTL is how long a refusal is remembered; a new RoleBinding takes
	// up to this long to open access. Default 10s.
	DenyTTL time.Duration
	// MaxConcurrentReviews bounds the SubjectAccessReviews in flight.
	// Default DefaultMaxConcurrentReviews.
	MaxConcurrentReviews int
}

// Authorizer asks SubjectAccessReview whether a user may read a scope.
// Answers are cached per (user, groups, verb, namespace, name).
type Authorizer struct {
	sar     authorizer.Authorizer
	timeout time.Duration
	flights flights
	gate    gate
}

// NewAuthorizer builds the SubjectAccessReview authorizer that
// k8s.io/apiserver's delegating authorizer wraps, constructed directly so
// its metrics hook can count the reviews really sent.
func NewAuthorizer(opts AuthorizerOptions) (*Authorizer, error) {
	if opts.Client == nil {
		return nil, errors.New("authorizer needs a Kubernetes client for SubjectAccessReview")
	}
	if opts.AllowTTL < 0 || opts.DenyTTL < 0 {
		return nil, fmt.Errorf("authorizer cache TTLs (allow %s, deny %s) must not be negative", opts.AllowTTL, opts.DenyTTL)
	}
	if opts.AllowTTL == 0 {
		opts.AllowTTL = defaultAllowTTL
	}
	if opts.DenyTTL == 0 {
		opts.DenyTTL = defaultDenyTTL
	}
	sar, err := webhookauthz.NewFromInterface(opts.Client.AuthorizationV1(), opts.AllowTTL, opts.DenyTTL,
		*webhookauthz.DefaultRetryBackoff(), authorizer.DecisionDeny, sarMetrics{}, authorizationcel.NewDefaultCompiler())
	if err != nil {
		return nil, fmt.Errorf("building the SubjectAccessReview authorizer: %w", err)
	}
	return &Authorizer{sar: sar, timeout: defaultReviewTimeout, gate: newGate(opts.MaxConcurrentReviews)}, nil
}

// Authorize returns nil when every verb the scope needs is allowed; an
// error wrapping ErrForbidden, in kubectl's words, naming what is missing;
// another error when the API server could not be asked.
func (z *Authorizer) Authorize(ctx context.Context, u user.Info, scope Scope) error {
	return z.authorizeVerbs(ctx, u, scope, scope.verbs())
}

// AuthorizeVerb is Authorize for one verb the caller names, such as
// "patch" for acting on a Cast; it shares the reviews' caches and bounds.
func (z *Authorizer) AuthorizeVerb(ctx context.Context, u user.Info, verb string, scope Scope) error {
	return z.authorizeVerbs(ctx, u, scope, []string{verb})
}

func (z *Authorizer) authorizeVerbs(ctx context.Context, u user.Info, scope Scope, verbs []string) error {
	log := logf.FromContext(ctx).WithName("auth")
	if u == nil {
		recordDecision(stageAuthz, resultDenied)
		return fmt.Errorf("%w: no user", ErrForbidden)
	}
	if scope.Name != "" && scope.Namespace == "" {
		// Casts are namespaced: a name alone does not identify one.
		recordDecision(stageAuthz, resultDenied)
		return fmt.Errorf("%w: a Cast name needs a namespace", ErrForbidden)
	}

	// Ask for all verbs at once so a miss costs one round trip, not two,
	// and a refusal can name everything that is missing.
	u = withoutCredentialID(u)
	decisions := make([]authorizer.Decision, len(verbs))
	reasons := make([]string, len(verbs))
	errs := make([]error, len(verbs))
	var wg sync.WaitGroup
	for i, verb := range verbs {
		wg.Go(func() {
			decisions[i], reasons[i], errs[i] = z.review(ctx, authorizer.AttributesRecord{
				User:            u,
				Verb:            verb,
				Namespace:       scope.Namespace,
				APIGroup:        castGroup,
				Resource:        castResource,
				Name:            scope.Name,
				ResourceRequest: true,
			})
		})
	}
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		recordDecision(stageAuthz, resultError)
		log.Info("subject access review failed", "user", u.GetName(), "namespace", scope.Namespace, "name", scope.Name, "error", err.Error())
		return fmt.Errorf("asking the API server whether %q may %s Casts: %w", u.GetName(), strings.Join(verbs, " and "), err)
	}
	var missing, why []string
	for i, d := range decisions {
		if d != authorizer.DecisionAllow {
			missing = append(missing, verbs[i])
			if reasons[i] != "" {
				why = append(why, reasons[i])
			}
		}
	}
	if len(missing) == 0 {
		recordDecision(stageAuthz, resultAllowed)
		return nil
	}
	recordDecision(stageAuthz, resultDenied)
	log.V(1).Info("access denied", "user", u.GetName(), "namespace", scope.Namespace, "name", scope.Name, "verbs", missing)
	msg := forbiddenMessage(u.GetName(), missing, scope)
	if len(why) > 0 {
		msg += ": " + strings.Join(why, "; ")
	}
	return fmt.Errorf("%w: %s", ErrForbidden, msg)
}

// forbiddenMessage phrases a refusal the way kubectl users know, e.g.
// `user "alice" cannot watch casts.spell.dev "build-42" in namespace "ci"`.
func forbiddenMessage(userName string, verbs []string, scope Scope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "user %q cannot %s %s.%s", userName, strings.Join(verbs, " or "), castResource, castGroup)
	if scope.Name != "" {
		fmt.Fprintf(&b, " %q", scope.Name)
	}
	if scope.Namespace != "" {
		fmt.Fprintf(&b, " in namespace %q", scope.Namespace)
	} else {
		b.WriteString(" at the cluster scope")
	}
	return b.String()
}

// defaultReviewTimeout bounds a shared SubjectAccessReview (retries
// included), which no single caller's context may cancel.
const defaultReviewTimeout = 10 * time.Second

// review asks SubjectAccessReview through the webhook authorizer's cache,
// sharing the call among concurrent identical questions: the cache only
// helps once an answer is in, so without this a thousand clients of one
// user connecting at once would send a thousand identical reviews.
func (z *Authorizer) review(ctx context.Context, attrs authorizer.AttributesRecord) (authorizer.Decision, string, error) {
	res := z.flights.do(ctx, reviewKey(attrs), func() reviewResult {
		// The wait for a slot and the review have a timeout each.
		wait, cancelWait := context.WithTimeout(context.WithoutCancel(ctx), z.timeout)
		defer cancelWait()
		if err := z.gate.enter(wait); err != nil {
			return reviewResult{decision: authorizer.DecisionDeny, err: fmt.Errorf("waiting to send a SubjectAccessReview: %w", err)}
		}
		defer z.gate.leave()
		shared, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.timeout)
		defer cancel()
		var r reviewResult
		r.decision, r.reason, r.err = z.sar.Authorize(shared, attrs)
		return r
	})
	return res.decision, res.reason, res.err
}

// withoutCredentialID drops the token's own ID (JTI) from the user's extra
// before asking: RBAC never looks at it, and every token of a
// ServiceAccount has a different one, so with it each token, not each
// user, would cost its own reviews and cache entries.
func withoutCredentialID(u user.Info) user.Info {
	extra := u.GetExtra()
	if _, ok := extra[user.CredentialIDKey]; !ok {
		return u
	}
	trimmed := make(map[string][]string, len(extra)-1)
	for k, v := range extra {
		if k != user.CredentialIDKey {
			trimmed[k] = v
		}
	}
	return &user.DefaultInfo{Name: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: trimmed}
}

// reviewKey identifies a question by everything a SubjectAccessReview
// sends: user, UID, groups, extra and the resource attributes.
func reviewKey(a authorizer.AttributesRecord) string {
	var b strings.Builder
	u := a.User
	b.WriteString(u.GetName())
	b.WriteByte(0)
	b.WriteString(u.GetUID())
	for _, g := range u.GetGroups() {
		b.WriteByte(0)
		b.WriteString(g)
	}
	extra := u.GetExtra()
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(1)
		b.WriteString(k)
		for _, v := range extra[k] {
			b.WriteByte(0)
			b.WriteString(v)
		}
	}
	fmt.Fprintf(&b, "\x02%s\x00%s\x00%s\x00%s\x00%s", a.Verb, a.Namespace, a.APIGroup, a.Resource, a.Name)
	return b.String()
}

type reviewResult struct {
	decision authorizer.Decision
	reason   string
	err      error
}

// flights runs one call per key at a time and hands its result to every
// caller that asked meanwhile (a minimal singleflight).
type flights struct {
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done chan struct{}
	res  reviewResult
}

// do returns fn's result for key, calling fn only if no call for key is in
// flight. A caller whose ctx ends stops waiting; the call goes on for the
// others.
func (f *flights) do(ctx context.Context, key string, fn func() reviewResult) reviewResult {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flight{}
	}
	c, inFlight := f.calls[key]
	if !inFlight {
		c = &flight{done: make(chan struct{})}
		f.calls[key] = c
	}
	f.mu.Unlock()
	if !inFlight {
		go func() {
			c.res = fn()
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	select {
	case <-c.done:
		return c.res
	case <-ctx.Done():
		return reviewResult{decision: authorizer.DecisionDeny, err: ctx.Err()}
	}
}
