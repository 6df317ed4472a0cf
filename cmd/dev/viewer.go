package dev

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// tokenSeconds is how long the dev tokens last: a working day.
const tokenSeconds = 12 * 60 * 60

// writeToken gives `make run` a real identity to try the streamer with:
// ServiceAccount default/NAME, bound to a shipped ClusterRole in every
// namespace, and its token in dir/FILE. Two exist: cast-viewer (reads
// Casts: streams, the dashboard) and cast-editor (also cancels and
// re-runs them from the dashboard).
func writeToken(ctx context.Context, cfg *rest.Config, dir, name, role, file string) (string, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	objects := []func() error{
		func() error {
			_, err := kube.CoreV1().ServiceAccounts("default").Create(ctx,
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "default"}},
			}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objects {
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating the %s identity: %w", name, err)
		}
	}
	tr, err := kube.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(tokenSeconds))},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s: %w", name, err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(tr.Status.Token), 0o600); err != nil {
		return "", fmt.Errorf("writing the %s token: %w", name, err)
	}
	return path, nil
}

func ptrTo[T any](v T) *T { return &v }
