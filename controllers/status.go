package controllers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// initStatus gives a Cast that has never been reconciled its first status:
// phase Pending and its conditions, so `kubectl get` and `kubectl
// wait` have something true to show from the start. A Cast with spec.runID
// is bound to that run at once. It leaves a status that already has a phase
// alone, apart from observedGeneration.
func initStatus(cast *castv1alpha1.Cast, now time.Time) {
	st := &cast.Status
	st.ObservedGeneration = cast.Generation
	if st.Phase != "" {
		return
	}
	st.Phase = castv1alpha1.PhasePending
	dispatched := metav1.Condition{
		Type:   castv1alpha1.ConditionDispatched,
		Status: metav1.ConditionFalse,
		Reason: castv1alpha1.ReasonDispatchPending,
	}
	if cast.Spec.RunID != nil {
		st.RunID = *cast.Spec.RunID
		st.Message = fmt.Sprintf("attached to run %d, waiting for its first event", st.RunID)
		dispatched.Status, dispatched.Reason = metav1.ConditionTrue, castv1alpha1.ReasonAttached
		dispatched.Message = fmt.Sprintf("attached to run %d; nothing was dispatched", st.RunID)
	} else {
		st.Message = "waiting to dispatch " + cast.Spec.Workflow
		dispatched.Message = "the workflow has not been dispatched yet"
	}
	dispatched.ObservedGeneration = cast.Generation
	dispatched.LastTransitionTime = metav1.NewTime(now)
	meta.SetStatusCondition(&st.Conditions, dispatched)
	runstatus.SetProgress(st, st.Phase, now)
	for i := range st.Conditions {
		st.Conditions[i].ObservedGeneration = cast.Generation
	}
}
