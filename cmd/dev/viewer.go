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

// viewerTokenSeconds is how long the dev viewer token lasts: a working day.
const viewerTokenSeconds = 12 * 60 * 60

// writeViewerToken gives `make run` a real, least-privileged identity to
// stream with: ServiceAccount default/cast-viewer, bound to the shipped
// cast-viewer ClusterRole in every namespace, and its token in
// dir/viewer.token.
func writeViewerToken(ctx context.Context, cfg *rest.Config, dir string) (string, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	objects := []func() error{
		func() error {
			_, err := kube.CoreV1().ServiceAccounts("default").Create(ctx,
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "cast-viewer"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "cast-viewer"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: viewerRole},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "cast-viewer", Namespace: "default"}},
			}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objects {
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating the cast-viewer identity: %w", err)
		}
	}
	tr, err := kube.CoreV1().ServiceAccounts("default").CreateToken(ctx, "cast-viewer", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(viewerTokenSeconds))},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for cast-viewer: %w", err)
	}
	path := filepath.Join(dir, "viewer.token")
	if err := os.WriteFile(path, []byte(tr.Status.Token), 0o600); err != nil {
		return "", fmt.Errorf("writing the viewer token: %w", err)
	}
	return path, nil
}

func ptrTo[T any](v T) *T { return &v }
