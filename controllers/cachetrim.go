package controllers

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/internal/intern"
)

// CacheTransform prepares a Cast for the controller's informer cache. It
// keeps every field (the reconciler reads and updates whole Casts) but
// managedFields, which nothing reads, and makes Casts share what they
// have in common instead of holding one decoded copy each: the strings
// most Casts repeat (namespace, repository, workflow, phase, finalizer,
// condition types, reasons and fixed messages) and identical label maps.
// With 100,000 Casts those copies were a large share of the controller's
// heap. It also fits decoded slices to their length: the JSON decoder
// grows them by doubling, so a Cast's five conditions came with room for
// nine (about 400 spare bytes per Cast, a fifth of its cached size).
//
// Shared label maps rely on the informer contract that cached objects are
// never modified: the cache reader hands out deep copies, and predicates
// only read.
func CacheTransform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	labels := &intern.LabelSets{}
	return func(obj any) (any, error) {
		obj, err := strip(obj)
		if err != nil {
			return obj, err
		}
		if cast, ok := obj.(*castv1alpha1.Cast); ok {
			internCast(cast, labels)
		}
		return obj, nil
	}
}

func internCast(c *castv1alpha1.Cast, labels *intern.LabelSets) {
	c.APIVersion, c.Kind = intern.String(c.APIVersion), intern.String(c.Kind)
	c.Namespace = intern.String(c.Namespace)
	c.GenerateName = intern.String(c.GenerateName)
	for i := range c.Finalizers {
		c.Finalizers[i] = intern.String(c.Finalizers[i])
	}
	for i := range c.OwnerReferences {
		o := &c.OwnerReferences[i]
		o.APIVersion, o.Kind = intern.String(o.APIVersion), intern.String(o.Kind)
	}
	c.Labels = labels.Share(c.Labels)

	s := &c.Spec
	s.Repository, s.Workflow, s.Ref = intern.String(s.Repository), intern.String(s.Workflow), intern.String(s.Ref)
	if s.CredentialsSecretRef != nil {
		s.CredentialsSecretRef.Name = intern.String(s.CredentialsSecretRef.Name)
	}

	st := &c.Status
	st.Phase = castv1alpha1.CastPhase(intern.String(string(st.Phase)))
	st.Conclusion, st.Message = intern.String(st.Conclusion), intern.Fixed(st.Message)
	st.Conditions, st.Artifacts, st.Jobs = fit(st.Conditions), fit(st.Artifacts), fit(st.Jobs)
	for i := range st.Conditions {
		internCondition(&st.Conditions[i])
	}
	for i := range st.Jobs {
		st.Jobs[i].Steps = fit(st.Jobs[i].Steps)
	}
}

// fit returns s in an array of its own length, or s itself when it has no
// spare room.
func fit[S ~[]E, E any](s S) S {
	if cap(s) == len(s) {
		return s
	}
	return slices.Clone(s)
}

func internCondition(c *metav1.Condition) {
	c.Type, c.Reason, c.Message = intern.String(c.Type), intern.String(c.Reason), intern.Fixed(c.Message)
	c.Status = metav1.ConditionStatus(intern.String(string(c.Status)))
}
