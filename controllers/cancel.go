package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
)

// cancelRequested carries out spec.cancel for the attempt it names, once:
// status.cancel records the outcome, and a recorded request is never acted
// on again, so GitHub is asked at most once per request (a retry follows
// only an answer that may not have reached GitHub). A Cancelled Cast then
// concludes as any finished one. handled means reconcile returns res and
// err now; otherwise it goes on.
func (r *CastReconciler) cancelRequested(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, ghErr error, now time.Time) (res ctrl.Result, handled bool, err error) {
	req, st := cast.Spec.Cancel, &cast.Status
	if req == nil || (st.Cancel != nil && st.Cancel.Attempt >= req.Attempt) {
		return ctrl.Result{}, false, nil
	}
	attempt := max(st.RunAttempt, 1)
	switch {
	case req.Attempt > attempt:
		// The attempt a re-run will start: cancelled once it is seen.
		return ctrl.Result{}, false, nil
	case req.Attempt < attempt || st.Phase.IsTerminal():
		recordCancel(cast, castv1alpha1.CancelResultAlreadyFinished, now,
			fmt.Sprintf("attempt %d already finished (the Cast is %s at attempt %d); nothing was sent to GitHub", req.Attempt, st.Phase, attempt))
		return ctrl.Result{}, false, nil
	case st.RunID == 0:
		return r.cancelBeforeRun(ctx, cast, gh, ghErr, now)
	}
	return r.cancelRun(ctx, cast, gh, ghErr, now)
}

// cancelBeforeRun cancels a Cast not bound to a run yet. Nothing is
// dispatched from then on; but a dispatch this process did not record may
// have reached GitHub before a crash, so that run is looked for, within
// the dispatch grace, and cancelled if found.
func (r *CastReconciler) cancelBeforeRun(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, ghErr error, now time.Time) (ctrl.Result, bool, error) {
	cond := meta.FindStatusCondition(cast.Status.Conditions, castv1alpha1.ConditionDispatched)
	maySent := cast.Spec.RunID == nil && cond != nil && cond.Reason == ReasonDispatching && !r.intentRecordedHere(cast)
	if maySent {
		if gh == nil {
			res, err := r.githubTrouble(cast, ghErr, now)
			return res, true, err
		}
		d, err := gh.FindDispatchedRun(ctx, cast.Spec.Repository, cast.Spec.Workflow, string(cast.UID), cond.LastTransitionTime.Add(-time.Minute))
		if err != nil {
			res, err := retryLater(fmt.Errorf("looking for a run dispatched before the cancel: %w", err))
			return res, true, err
		}
		if d.RunID != 0 {
			setDispatched(cast, metav1.ConditionTrue, castv1alpha1.ReasonDispatched,
				fmt.Sprintf("dispatched %s on %s", cast.Spec.Workflow, cast.Spec.Ref), now)
			recordRun(cast, d)
			r.touch(cast, now)
			return r.cancelRun(ctx, cast, gh, ghErr, now)
		}
		if wait := cond.LastTransitionTime.Add(r.DispatchGrace).Sub(now); wait > 0 {
			return ctrl.Result{RequeueAfter: min(wait, findInterval)}, true, nil
		}
	}
	r.setIntent(cast, false)
	msg := "cancelled before dispatch at the request of " + cast.Spec.Cancel.RequestedBy + "; nothing was dispatched"
	setDispatched(cast, metav1.ConditionFalse, castv1alpha1.ReasonCancelledBeforeDispatch, msg, now)
	recordCancel(cast, castv1alpha1.CancelResultCancelled, now, msg)
	finish(cast, castv1alpha1.PhaseCancelled, msg, now)
	return ctrl.Result{}, false, nil
}

// cancelRun asks GitHub to cancel the Cast's run, through the same call
// as deletion and timeout.
func (r *CastReconciler) cancelRun(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, ghErr error, now time.Time) (ctrl.Result, bool, error) {
	st, who := &cast.Status, cast.Spec.Cancel.RequestedBy
	if gh == nil {
		if errors.Is(ghErr, ghapi.ErrNoCredentials) {
			recordCancel(cast, castv1alpha1.CancelResultFailed, now, "cannot cancel run: "+ghErr.Error())
			return ctrl.Result{}, false, nil
		}
		res, err := r.githubTrouble(cast, ghErr, now)
		return res, true, err
	}
	completed, err := gh.CancelRunIfRunning(ctx, cast.Spec.Repository, st.RunID)
	switch {
	case err == nil && completed:
		// The run ended before the cancel reached GitHub: its own outcome
		// is the truth, read at once.
		recordCancel(cast, castv1alpha1.CancelResultAlreadyFinished, now,
			fmt.Sprintf("run %d had already finished on GitHub; nothing was cancelled", st.RunID))
		run, err := gh.GetRun(ctx, cast.Spec.Repository, st.RunID)
		if err != nil {
			// The record is written all the same; resync reads the run.
			res, err := retryLater(fmt.Errorf("reading run %d, which finished before the cancel: %w", st.RunID, err))
			return res, true, err
		}
		r.applyRun(ctx, cast, run, now)
		return ctrl.Result{}, false, nil
	case err == nil:
		msg := fmt.Sprintf("run %d cancelled at the request of %s", st.RunID, who)
		recordCancel(cast, castv1alpha1.CancelResultCancelled, now, msg)
		finish(cast, castv1alpha1.PhaseCancelled, msg, now)
		return ctrl.Result{}, false, nil
	case waitsForGitHub(err) || ghapi.NotSent(err):
		res, err := r.githubTrouble(cast, err, now)
		return res, true, err
	case ghapi.IsPermanent(err):
		recordCancel(cast, castv1alpha1.CancelResultFailed, now, fmt.Sprintf("GitHub refused to cancel run %d; it may still be running: %v", st.RunID, err))
		return ctrl.Result{}, false, nil
	}
	res, err := retryLater(fmt.Errorf("cancelling run %d at the request of %s: %w", st.RunID, who, err))
	return res, true, err
}

func recordCancel(cast *castv1alpha1.Cast, result castv1alpha1.CancelResult, now time.Time, msg string) {
	cast.Status.Cancel = &castv1alpha1.CancelStatus{
		Attempt: cast.Spec.Cancel.Attempt, RequestedBy: cast.Spec.Cancel.RequestedBy,
		RequestedAt: metav1.NewTime(now.UTC().Truncate(time.Second)), Result: result, Message: msg,
	}
}
