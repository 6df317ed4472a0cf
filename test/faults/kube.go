package faults

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// MinTokenTTL is the shortest token the TokenRequest API issues.
const MinTokenTTL = 10 * time.Minute

// EnsureNamespace creates ns if it does not exist.
func EnsureNamespace(ctx context.Context, kube kubernetes.Interface, ns string) error {
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// EnsureViewer creates ServiceAccount ns/sa and lets it get, list and
// watch Casts in ns: what a namespace stream needs.
func EnsureViewer(ctx context.Context, kube kubernetes.Interface, ns, sa string) error {
	ignore := func(err error) error {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if err := EnsureNamespace(ctx, kube, ns); err != nil {
		return err
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); ignore(err) != nil {
		return err
	}
	return AllowViewer(ctx, kube, ns, ns, sa)
}

// AllowViewer lets ServiceAccount saNS/sa get, list and watch Casts in ns.
func AllowViewer(ctx context.Context, kube kubernetes.Interface, ns, saNS, sa string) error {
	name := "cast-viewer-" + saNS + "-" + sa
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{castv1alpha1.GroupVersion.Group}, Resources: []string{"casts"}, Verbs: []string{"get", "list", "watch"}}}}
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: saNS}}}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// MintToken asks the TokenRequest API for a token of ns/sa.
func MintToken(ctx context.Context, kube kubernetes.Interface, ns, sa string, ttl time.Duration) (string, error) {
	secs := int64(max(ttl, MinTokenTTL) / time.Second)
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", ns, sa, err)
	}
	return tr.Status.Token, nil
}

// SetStatus writes a Cast's status through the status subresource, as the
// controller does, retrying on conflicts; it returns the written object.
func SetStatus(ctx context.Context, c client.Client, key client.ObjectKey, mutate func(*castv1alpha1.CastStatus)) (*castv1alpha1.Cast, error) {
	cur := &castv1alpha1.Cast{}
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if err := c.Get(ctx, key, cur); err != nil {
			return err
		}
		mutate(&cur.Status)
		return c.Status().Update(ctx, cur)
	})
	return cur, err
}

// NewCast is a Cast as users write it; runID attaches it to a run.
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
