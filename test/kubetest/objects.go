package kubetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// MinTokenTTL is the shortest token the TokenRequest API issues.
const MinTokenTTL = 10 * time.Minute

// ReadVerbs are what a stream of Casts needs: get for one, list and watch
// for a namespace or the cluster.
var ReadVerbs = []string{"get", "list", "watch"}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// EnsureNamespace creates ns unless it exists.
func EnsureNamespace(ctx context.Context, kube kubernetes.Interface, ns string) error {
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err = ignoreExists(err); err != nil {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return nil
}

// Token creates ServiceAccount ns/sa unless it exists and returns a real
// token for it from the TokenRequest API, valid for ttl (at least
// MinTokenTTL) and for audiences (none: the API server's own).
func Token(ctx context.Context, kube kubernetes.Interface, ns, sa string, ttl time.Duration, audiences ...string) (string, error) {
	_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err = ignoreExists(err); err != nil {
		return "", fmt.Errorf("creating ServiceAccount %s/%s: %w", ns, sa, err)
	}
	secs := int64(max(ttl, MinTokenTTL) / time.Second)
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs, Audiences: audiences}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", ns, sa, err)
	}
	return tr.Status.Token, nil
}

// Grant is an RBAC permission on Casts for one ServiceAccount.
type Grant struct {
	// Namespace is where the Role lives; empty grants cluster-wide
	// through a ClusterRole.
	Namespace string
	// ServiceAccount is the subject, as namespace/name.
	ServiceAccount client.ObjectKey
	// User is the subject instead, by name, when set: someone the API
	// server knows from elsewhere, such as an OIDC provider.
	User string
	// Verbs default to ReadVerbs.
	Verbs []string
	// ResourceNames limit the grant to these Casts.
	ResourceNames []string
}

// name is stable for equal grants, so granting twice is harmless, and
// distinct for different ones.
func (g Grant) name() string {
	sum := sha256.Sum256([]byte(strings.Join(g.Verbs, ",") + "|" + strings.Join(g.ResourceNames, ",") + "|" + g.User))
	if g.User != "" {
		return "casts-user-" + hex.EncodeToString(sum[:8])
	}
	return fmt.Sprintf("casts-%s-%s-%s", g.ServiceAccount.Namespace, g.ServiceAccount.Name, hex.EncodeToString(sum[:4]))
}

// subject is who the grant is for, as RBAC and SubjectAccessReview name it.
func (g Grant) subject() (rbacv1.Subject, string, []string) {
	if g.User != "" {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: g.User}, g.User, nil
	}
	sa := g.ServiceAccount
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace},
		serviceaccount.MakeUsername(sa.Namespace, sa.Name), serviceaccount.MakeGroupNames(sa.Namespace)
}

// Allow creates the Role (or ClusterRole) and binding that give the grant.
// The API server's authorizer sees them a moment later.
func Allow(ctx context.Context, kube kubernetes.Interface, g Grant) error {
	if len(g.Verbs) == 0 {
		g.Verbs = ReadVerbs
	}
	name := g.name()
	rules := []rbacv1.PolicyRule{{APIGroups: []string{castv1alpha1.GroupVersion.Group}, Resources: []string{"casts"},
		Verbs: g.Verbs, ResourceNames: g.ResourceNames}}
	subject, who, _ := g.subject()
	subjects := []rbacv1.Subject{subject}
	rbac := kube.RbacV1()
	var err error
	if g.Namespace == "" {
		_, err = rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
		if err = ignoreExists(err); err == nil {
			_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}, Subjects: subjects}, metav1.CreateOptions{})
			err = ignoreExists(err)
		}
	} else {
		_, err = rbac.Roles(g.Namespace).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: g.Namespace}, Rules: rules}, metav1.CreateOptions{})
		if err = ignoreExists(err); err == nil {
			_, err = rbac.RoleBindings(g.Namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: g.Namespace},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: subjects}, metav1.CreateOptions{})
			err = ignoreExists(err)
		}
	}
	if err != nil {
		return fmt.Errorf("granting %v on casts to %s: %w", g.Verbs, who, err)
	}
	return waitGranted(ctx, kube, g)
}

// grantTimeout bounds the wait for the API server's RBAC authorizer, fed
// by its own informers, to see a new binding.
const grantTimeout = 30 * time.Second

// waitGranted returns once the API server allows every verb of g: a
// request made right after a binding is created can still be refused.
func waitGranted(ctx context.Context, kube kubernetes.Interface, g Grant) error {
	_, who, groups := g.subject()
	name := ""
	if len(g.ResourceNames) > 0 {
		name = g.ResourceNames[0]
	}
	for _, verb := range g.Verbs {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   who,
			Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: g.Namespace, Verb: verb,
				Group: castv1alpha1.GroupVersion.Group, Resource: "casts", Name: name},
		}}
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, grantTimeout, true, func(ctx context.Context) (bool, error) {
			out, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				return false, err
			}
			return out.Status.Allowed, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for the API server to allow %s on casts to %s: %w", verb, who, err)
		}
	}
	return nil
}

// Viewer creates ServiceAccount ns/sa, lets it read Casts in ns and
// returns a token for it: what a namespace stream needs.
func Viewer(ctx context.Context, kube kubernetes.Interface, ns, sa string) (string, error) {
	if err := EnsureNamespace(ctx, kube, ns); err != nil {
		return "", err
	}
	tok, err := Token(ctx, kube, ns, sa, time.Hour)
	if err != nil {
		return "", err
	}
	return tok, Allow(ctx, kube, Grant{Namespace: ns, ServiceAccount: client.ObjectKey{Namespace: ns, Name: sa}})
}

// NewCast is a Cast as users write it; a non-zero runID attaches it to
// that run.
func NewCast(ns, name string, runID int64) *castv1alpha1.Cast {
	c := &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml",
			Inputs: map[string]string{"spell": name}},
	}
	if runID != 0 {
		c.Spec.RunID = &runID
	}
	return c
}

// SetStatus writes a Cast's status through the status subresource, as the
// controller does, retrying on conflicts, and returns the written object.
// Safe from any goroutine.
func SetStatus(ctx context.Context, c client.Client, key client.ObjectKey, mutate func(*castv1alpha1.CastStatus)) (*castv1alpha1.Cast, error) {
	var cur *castv1alpha1.Cast
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		// A fresh object each attempt: Get decodes into it without clearing
		// what the server omits, so a reused one would carry the failed
		// attempt's mutation into the next.
		cur = &castv1alpha1.Cast{}
		if err := c.Get(ctx, key, cur); err != nil {
			return err
		}
		mutate(&cur.Status)
		return c.Status().Update(ctx, cur)
	})
	if err != nil {
		return nil, fmt.Errorf("writing the status of %s: %w", key, err)
	}
	return cur, nil
}
