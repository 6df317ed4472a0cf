// Package scheme is cast-operator's one runtime.Scheme: the built-in kinds
// and Cast. It lives outside hack/ so the shipped binary's managers and the
// tests' clients decode the same types without the binary linking the
// local control plane.
package scheme

import (
	"fmt"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// New returns a Scheme that knows the built-in kinds and Cast. Each call
// builds a fresh one, so callers may add kinds without affecting others.
func New() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{clientgoscheme.AddToScheme, castv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("registering API types: %v", err))
		}
	}
	return s
}
