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
func timeoutDeadline(cast *castv1alpha1.Cast) (time.Time, bool) {
	if cast.Spec.Timeout == nil || cast.Spec.Timeout.Duration <= 0 {
		return time.Time{}, false
	}
	return cast.CreationTimestamp.Add(cast.Spec.Timeout.Duration), true
}

// enforceTimeout cancels the run of a Cast older than spec.timeout (counted
// from its creation, so queueing counts too) and marks it TimedOut.
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
