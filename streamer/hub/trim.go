package hub

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Trim is the streamer's informer transform: it keeps of a Cast only what
// the hub reads (SnapshotOf, Classify, filters and resume), so a replica
// holding 100,000 Casts does not also hold their inputs, annotations,
// finalizers, owner references and conditions. Conditions are not in the
// stream's data, so a change to them alone is not news for clients; every
// other status field is kept. Objects that are not Casts pass unchanged.
func Trim(obj any) (any, error) {
	cast, ok := obj.(*castv1alpha1.Cast)
	if !ok {
		return obj, nil
	}
	out := &castv1alpha1.Cast{
		TypeMeta: cast.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: cast.Name, Namespace: cast.Namespace, UID: cast.UID,
			ResourceVersion: cast.ResourceVersion, Labels: cast.Labels,
			DeletionTimestamp: cast.DeletionTimestamp,
		},
		Spec:   castv1alpha1.CastSpec{Repository: cast.Spec.Repository, Workflow: cast.Spec.Workflow},
		Status: cast.Status,
	}
	out.Status.Conditions = nil
	out.Status.ObservedGeneration = 0
	return out, nil
}
