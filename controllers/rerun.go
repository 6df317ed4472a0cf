package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
)

// settleRerun keeps status.rerun true to where spec.rerun stands, without
// calling GitHub: waiting for its attempt to finish, done once a later
// attempt exists (whoever started it), or refused when there is no run.
// followRerun does the calling, for a concluded Cast.
func settleRerun(cast *castv1alpha1.Cast, now time.Time) {
	req, st := cast.Spec.Rerun, &cast.Status
	if req == nil {
		return
	}
	if rs := st.Rerun; rs != nil && rs.AfterAttempt == req.AfterAttempt && rs.State == castv1alpha1.RerunRefused {
		return
	}
	attempt := max(st.RunAttempt, 1)
	switch {
	case req.AfterAttempt < attempt:
		setRerun(cast, castv1alpha1.RerunRequested, fmt.Sprintf("attempt %d started", attempt), now)
	case st.RunID == 0 && st.Phase.IsTerminal():
		setRerun(cast, castv1alpha1.RerunRefused, "the Cast has no workflow run to re-run: create a new Cast from its spec instead", now)
	case req.AfterAttempt > attempt:
		setRerun(cast, castv1alpha1.RerunWaiting, fmt.Sprintf("attempt %d has not been seen yet; the run is at attempt %d", req.AfterAttempt, attempt), now)
	case !st.Phase.IsTerminal():
		setRerun(cast, castv1alpha1.RerunWaiting, fmt.Sprintf("attempt %d is %s: it is re-run once it has finished", attempt, st.Phase), now)
	}
}

// followRerun carries out spec.rerun on a concluded Cast whose latest
// attempt is the one it names. It first records the request (state
// Rerunning, written before any call), then reads the run and asks GitHub
// only while the run is still at that attempt: a run at a later attempt
// proves the request was sent, by this process or one that died before
// recording it, so a crash on either side of the call never re-runs twice.
func (r *CastReconciler) followRerun(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, ghErr error, now time.Time) (ctrl.Result, error) {
	req, st := cast.Spec.Rerun, &cast.Status
	if req == nil || req.AfterAttempt != max(st.RunAttempt, 1) || st.RunID == 0 {
		return ctrl.Result{}, nil
	}
	rs := st.Rerun
	if rs == nil || rs.AfterAttempt != req.AfterAttempt || rs.State == castv1alpha1.RerunWaiting {
		setRerun(cast, castv1alpha1.RerunRerunning, fmt.Sprintf("asking GitHub to re-run attempt %d", req.AfterAttempt), now)
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	if rs.State == castv1alpha1.RerunRefused {
		return ctrl.Result{}, nil
	}
	if gh == nil {
		return r.githubTrouble(cast, ghErr, now)
	}
	run, err := gh.GetRun(ctx, cast.Spec.Repository, st.RunID)
	if err != nil {
		return retryLater(fmt.Errorf("reading run %d before re-running it: %w", st.RunID, err))
	}
	if run.Attempt > req.AfterAttempt {
		setRerun(cast, castv1alpha1.RerunRequested, fmt.Sprintf("attempt %d started", run.Attempt), now)
		r.applyRun(ctx, cast, run, now)
		return r.sleepUntilWake(cast, now), nil
	}
	if rs.State == castv1alpha1.RerunRequested {
		// GitHub accepted; its run shows the new attempt in a moment.
		return ctrl.Result{RequeueAfter: findInterval}, nil
	}
	err = gh.RerunRun(ctx, cast.Spec.Repository, st.RunID, req.FailedOnly)
	switch {
	case err == nil:
		what := "every job"
		if req.FailedOnly {
			what = "the failed jobs"
		}
		setRerun(cast, castv1alpha1.RerunRequested, fmt.Sprintf("GitHub re-runs %s of attempt %d", what, req.AfterAttempt), now)
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	case waitsForGitHub(err) || ghapi.NotSent(err):
		return r.githubTrouble(cast, err, now)
	case ghapi.IsPermanent(err):
		msg := ghapi.Message(err)
		if msg == "" {
			msg = err.Error()
		}
		setRerun(cast, castv1alpha1.RerunRefused, fmt.Sprintf("GitHub refused to re-run attempt %d: %s", req.AfterAttempt, msg), now)
		return ctrl.Result{}, nil
	}
	// The request may have reached GitHub: the state stays Rerunning, so
	// the next try reads the run before asking again.
	return retryLater(fmt.Errorf("re-running run %d: %w", st.RunID, err))
}

// setRerun records where spec.rerun stands; the transition time moves only
// with the state.
func setRerun(cast *castv1alpha1.Cast, state castv1alpha1.RerunState, msg string, now time.Time) {
	req, old := cast.Spec.Rerun, cast.Status.Rerun
	if old != nil && old.AfterAttempt == req.AfterAttempt && old.State == state && old.Message == msg {
		return
	}
	rs := &castv1alpha1.RerunStatus{AfterAttempt: req.AfterAttempt, FailedOnly: req.FailedOnly, RequestedBy: req.RequestedBy,
		State: state, Message: msg, LastTransitionTime: metav1.NewTime(now.UTC().Truncate(time.Second))}
	if old != nil && old.AfterAttempt == req.AfterAttempt && old.State == state {
		rs.LastTransitionTime = old.LastTransitionTime
	}
	cast.Status.Rerun = rs
}
