package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
)

// timeoutDeadline is when spec.timeout runs out; false when it never does.
// It counts from the Cast's creation, or for a re-run's attempt from when
// it was asked for, or else (a re-run from GitHub's page) no earlier than
// the previous attempt's end: a re-run of an old Cast is not out of time
// before it starts.
func timeoutDeadline(cast *castv1alpha1.Cast) (time.Time, bool) {
	if cast.Spec.Timeout == nil || cast.Spec.Timeout.Duration <= 0 {
		return time.Time{}, false
	}
	return attemptStart(cast).Add(cast.Spec.Timeout.Duration), true
}

// attemptStart is when the current attempt's time began to count.
func attemptStart(cast *castv1alpha1.Cast) time.Time {
	st := &cast.Status
	start := cast.CreationTimestamp.Time
	if st.RunAttempt <= 1 {
		return start
	}
	if rs := st.Rerun; rs != nil && rs.State == castv1alpha1.RerunRequested && rs.AfterAttempt+1 == st.RunAttempt {
		return later(start, rs.LastTransitionTime.Time)
	}
	if n := len(st.PreviousAttempts); n > 0 && st.PreviousAttempts[n-1].FinishedAt != nil {
		return later(start, st.PreviousAttempts[n-1].FinishedAt.Time)
	}
	return start
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// enforceTimeout cancels the run of a Cast older than spec.timeout (counted
// from its creation, or its re-run, so queueing counts too) and marks it
// TimedOut.
func (r *CastReconciler) enforceTimeout(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, now time.Time) (ctrl.Result, error) {
	deadline, ok := timeoutDeadline(cast)
	if !ok || cast.Status.Phase.IsTerminal() || now.Before(deadline) {
		return ctrl.Result{}, nil
	}
	msg := fmt.Sprintf("timed out after %s", cast.Spec.Timeout.Duration)
	if cast.Status.RunID != 0 && gh != nil {
		err := gh.CancelRun(ctx, cast.Spec.Repository, cast.Status.RunID)
		switch {
		case err == nil:
			msg += fmt.Sprintf("; run %d cancelled", cast.Status.RunID)
		case ghapi.IsPermanent(err):
			msg += fmt.Sprintf("; cancelling run %d failed: %v", cast.Status.RunID, err)
		default:
			return retryLater(fmt.Errorf("cancelling timed-out run %d: %w", cast.Status.RunID, err))
		}
	}
	finish(cast, castv1alpha1.PhaseTimedOut, msg, now)
	return ctrl.Result{}, nil
}
