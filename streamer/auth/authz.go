package auth

import (
	"context"
	"errors"
	"fmt"
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
}

// Authorizer asks SubjectAccessReview whether a user may read a scope.
// Answers are cached per (user, groups, verb, namespace, name).
type Authorizer struct {
	sar authorizer.Authorizer
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
	return &Authorizer{sar: sar}, nil
}

// Authorize returns nil when every verb the scope needs is allowed; an
// error wrapping ErrForbidden, in kubectl's words, naming what is missing;
// another error when the API server could not be asked.
func (z *Authorizer) Authorize(ctx context.Context, u user.Info, scope Scope) error {
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
	verbs := scope.verbs()
	decisions := make([]authorizer.Decision, len(verbs))
	reasons := make([]string, len(verbs))
	errs := make([]error, len(verbs))
	var wg sync.WaitGroup
	for i, verb := range verbs {
		wg.Go(func() {
			decisions[i], reasons[i], errs[i] = z.sar.Authorize(ctx, authorizer.AttributesRecord{
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
		return fmt.Errorf("asking the API server whether %q may read Casts: %w", u.GetName(), err)
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
