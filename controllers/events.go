package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// recordTransition emits an Event for each step of the story a user reads
// in `kubectl describe cast`, from whichever process moved the status: the
// reconciler or a replica's webhook receipt.
func recordTransition(rec recorder.EventRecorder, cast *castv1alpha1.Cast, before castv1alpha1.CastStatus) {
	if rec == nil {
		return
	}
	recordAccess(rec, cast, before)
	recordActions(rec, cast, before)
	after := cast.Status
	if before.RunID == 0 && after.RunID != 0 {
		if cast.Spec.RunID != nil {
			rec.Eventf(cast, nil, corev1.EventTypeNormal, castv1alpha1.EventReasonAttached, "Attach", "tracking run %d", after.RunID)
		} else {
			rec.Eventf(cast, nil, corev1.EventTypeNormal, castv1alpha1.EventReasonDispatched, "Dispatch", "dispatched run %d", after.RunID)
		}
	}
	if before.Phase == after.Phase {
		return
	}
	switch after.Phase {
	case castv1alpha1.PhaseRunning:
		rec.Eventf(cast, nil, corev1.EventTypeNormal, castv1alpha1.EventReasonStarted, "Run", "run %d started", after.RunID)
	case castv1alpha1.PhaseSucceeded:
		rec.Eventf(cast, nil, corev1.EventTypeNormal, castv1alpha1.EventReasonSucceeded, "Run", "%s", after.Message)
	case castv1alpha1.PhaseFailed, castv1alpha1.PhaseTimedOut, castv1alpha1.PhaseCancelled:
		rec.Eventf(cast, nil, corev1.EventTypeWarning, castv1alpha1.OutcomeReason(after.Phase), "Run", "%s", after.Message)
	}
}

// recordAccess emits an Event when the GitHubAccess condition changes
// reason, so `kubectl describe cast` tells the story once, not per retry.
func recordAccess(rec recorder.EventRecorder, cast *castv1alpha1.Cast, before castv1alpha1.CastStatus) {
	old := meta.FindStatusCondition(before.Conditions, castv1alpha1.ConditionGitHubAccess)
	cur := meta.FindStatusCondition(cast.Status.Conditions, castv1alpha1.ConditionGitHubAccess)
	if cur == nil || (old != nil && old.Status == cur.Status && old.Reason == cur.Reason) {
		return
	}
	if cur.Status == metav1.ConditionFalse {
		rec.Eventf(cast, nil, corev1.EventTypeWarning, cur.Reason, "GitHub", "%s", cur.Message)
		return
	}
	rec.Eventf(cast, nil, corev1.EventTypeNormal, cur.Reason, "GitHub", "%s", cur.Message)
}

// recordActions emits an Event when spec.cancel or spec.rerun reaches an
// outcome worth telling; a cancel that worked is told by the Cancelled
// event of the phase change.
func recordActions(rec recorder.EventRecorder, cast *castv1alpha1.Cast, before castv1alpha1.CastStatus) {
	if c := cast.Status.Cancel; c != nil && (before.Cancel == nil || before.Cancel.Attempt != c.Attempt) {
		switch c.Result {
		case castv1alpha1.CancelResultAlreadyFinished:
			rec.Eventf(cast, nil, corev1.EventTypeWarning, castv1alpha1.EventReasonCancelIgnored, "Cancel", "%s", c.Message)
		case castv1alpha1.CancelResultFailed:
			rec.Eventf(cast, nil, corev1.EventTypeWarning, castv1alpha1.EventReasonCancelFailed, "Cancel", "%s", c.Message)
		}
	}
	rs := cast.Status.Rerun
	if rs == nil || (before.Rerun != nil && before.Rerun.AfterAttempt == rs.AfterAttempt && before.Rerun.State == rs.State) {
		return
	}
	switch rs.State {
	case castv1alpha1.RerunRequested:
		rec.Eventf(cast, nil, corev1.EventTypeNormal, castv1alpha1.EventReasonRerun, "Rerun", "%s (asked by %s)", rs.Message, rs.RequestedBy)
	case castv1alpha1.RerunRefused:
		rec.Eventf(cast, nil, corev1.EventTypeWarning, castv1alpha1.EventReasonRerunRefused, "Rerun", "%s", rs.Message)
	}
}
