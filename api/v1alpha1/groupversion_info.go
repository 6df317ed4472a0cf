// Package v1alpha1 holds the Cast API: one execution of a GitHub Actions
// workflow ("spell"), declared by users and kept true to GitHub by the
// controller.
//
// +kubebuilder:object:generate=true
// +groupName=spell.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version every Cast object carries.
	GroupVersion = schema.GroupVersion{Group: "spell.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Cast kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // kubebuilder's scaffold; controller-gen's register markers expect it

	// AddToScheme lets clients and managers decode Cast objects.
	AddToScheme = SchemeBuilder.AddToScheme
)
