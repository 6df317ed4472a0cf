package runstatus

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// The conditions follow batch/v1 Job's convention (Complete for success,
// Failed for failure) and kstatus's (Reconciling while not concluded,
// Stalled once failed), so `kubectl wait`, kstatus, Flux and Argo CD read a
// Cast without knowing it. SetProgress and Conclude are the only writers of
// the four; Dispatched and GitHubAccess are the reconciler's.

// SetProgress keeps Running, Reconciling, Complete and Failed in step with
// a phase the Cast has not concluded: a terminal phase still reconciles
// until Conclude records its outcome (artifacts and cost come first).
func SetProgress(st *castv1alpha1.CastStatus, phase castv1alpha1.CastPhase, at time.Time) {
	running := cond(castv1alpha1.ConditionRunning, metav1.ConditionFalse, castv1alpha1.ReasonQueued, "the run waits for a runner", at)
	reconciling := cond(castv1alpha1.ConditionReconciling, metav1.ConditionTrue, castv1alpha1.ReasonQueued, "the run waits for a runner", at)
	switch {
	case phase == castv1alpha1.PhasePending:
		running.Reason, running.Message = castv1alpha1.ReasonPending, "the run has not started"
		reconciling.Reason, reconciling.Message = castv1alpha1.ReasonPending, "no run seen yet"
	case phase == castv1alpha1.PhaseRunning:
		running.Status, running.Reason, running.Message = metav1.ConditionTrue, castv1alpha1.ReasonInProgress, "the run is executing"
		reconciling.Reason, reconciling.Message = castv1alpha1.ReasonInProgress, "the run is executing"
	case phase.IsTerminal() && st.Concluded():
		// A late snapshot of a concluded run: its outcome stands.
		running.Reason, running.Message = castv1alpha1.ReasonFinished, "the run finished"
		meta.SetStatusCondition(&st.Conditions, running)
		return
	case phase.IsTerminal():
		running.Reason, running.Message = castv1alpha1.ReasonFinished, "the run finished"
		reconciling.Reason, reconciling.Message = castv1alpha1.ReasonCollectingResults, "the run finished; reading its artifacts and cost"
	}
	notYet := "the run has not finished"
	if phase.IsTerminal() {
		notYet = "the outcome is not recorded yet"
	}
	for _, c := range []metav1.Condition{
		running, reconciling,
		cond(castv1alpha1.ConditionComplete, metav1.ConditionFalse, castv1alpha1.ReasonNotComplete, notYet, at),
		cond(castv1alpha1.ConditionFailed, metav1.ConditionFalse, castv1alpha1.ReasonNotComplete, notYet, at),
	} {
		meta.SetStatusCondition(&st.Conditions, c)
	}
	meta.RemoveStatusCondition(&st.Conditions, castv1alpha1.ConditionStalled)
}

// Conclude records a terminal phase's outcome: Complete=True for success;
// Failed=True and Stalled=True otherwise; Reconciling=False either way.
// generation is the spec generation the outcome was reached under.
func Conclude(st *castv1alpha1.CastStatus, msg string, generation int64, at time.Time) {
	reason := castv1alpha1.OutcomeReason(st.Phase)
	succeeded := st.Phase == castv1alpha1.PhaseSucceeded
	complete, failed := metav1.ConditionFalse, metav1.ConditionTrue
	if succeeded {
		complete, failed = metav1.ConditionTrue, metav1.ConditionFalse
	}
	conds := []metav1.Condition{
		cond(castv1alpha1.ConditionRunning, metav1.ConditionFalse, castv1alpha1.ReasonFinished, "the run finished", at),
		cond(castv1alpha1.ConditionReconciling, metav1.ConditionFalse, reason, msg, at),
		cond(castv1alpha1.ConditionComplete, complete, reason, msg, at),
		cond(castv1alpha1.ConditionFailed, failed, reason, msg, at),
	}
	if !succeeded {
		conds = append(conds, cond(castv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg, at))
	} else {
		meta.RemoveStatusCondition(&st.Conditions, castv1alpha1.ConditionStalled)
	}
	for _, c := range conds {
		c.ObservedGeneration = generation
		meta.SetStatusCondition(&st.Conditions, c)
	}
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string, at time.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(at)}
}

// Reconclude brings a concluded Cast's conditions to the current scheme
// (Casts concluded by an older operator had Complete=True on failure too),
// keeping its outcome message; on a Cast already in the scheme it changes
// nothing, so a restart writes nothing.
func Reconclude(st *castv1alpha1.CastStatus, generation int64, at time.Time) {
	msg := ""
	for _, c := range st.Conditions {
		if (c.Type == castv1alpha1.ConditionComplete || c.Type == castv1alpha1.ConditionFailed) && c.Status == metav1.ConditionTrue {
			msg = c.Message
		}
	}
	Conclude(st, msg, generation, at)
}
