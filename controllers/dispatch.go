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

// ReasonDispatching marks a recorded dispatch intent: the operator is about
// to call GitHub, or did and crashed before it could record the run.
const ReasonDispatching = "Dispatching"

// findInterval is how often a dispatched run not yet listed by GitHub is
// looked for.
const findInterval = 5 * time.Second

// dispatch binds a Cast without spec.runID to a new run exactly once. It
// records the intent (status written by the deferred patch) before calling
// GitHub; a process that finds an intent it did not record itself first
// looks for the run by the cast_id correlation input.
func (r *CastReconciler) dispatch(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, ghErr error, now time.Time) (ctrl.Result, error) {
	if ghErr != nil {
		reason := castv1alpha1.ReasonDispatchFailed
		if errors.Is(ghErr, ghapi.ErrNoCredentials) {
			reason = castv1alpha1.ReasonCredentialsMissing
		}
		if ae, ok := ghapi.AccessProblem(ghErr); ok {
			reason = ae.Reason
		}
		setDispatched(cast, metav1.ConditionFalse, reason, ghErr.Error(), now)
		// A token file or Secret may appear later; look again then.
		return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
	}

	cond := meta.FindStatusCondition(cast.Status.Conditions, castv1alpha1.ConditionDispatched)
	switch {
	case cond != nil && cond.Status == metav1.ConditionTrue:
		// Dispatched without run details: look for the run.
		return r.find(ctx, cast, gh, cond.LastTransitionTime.Time, now)
	case cond == nil || cond.Reason != ReasonDispatching:
		setDispatched(cast, metav1.ConditionFalse, ReasonDispatching,
			fmt.Sprintf("dispatching %s on %s", cast.Spec.Workflow, cast.Spec.Ref), now)
		r.setIntent(cast, true)
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}

	stale := now.Sub(cond.LastTransitionTime.Time) >= r.DispatchGrace
	if r.intentRecordedHere(cast) && stale {
		// This process recorded the intent and sent nothing since (it waited
		// for a dispatch slot, a rate-limit hold or a credential): no run to
		// look for. Renew the intent's date before sending, so a successor
		// of a process that dies right after the dispatch has a full grace
		// to find that run.
		cond.LastTransitionTime = metav1.NewTime(now)
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	if !r.intentRecordedHere(cast) {
		// Maybe this intent was sent by a process that died before it could
		// record the run: look for it before dispatching again.
		res, err := r.find(ctx, cast, gh, cond.LastTransitionTime.Time, now)
		if err != nil || cast.Status.RunID != 0 {
			return res, err
		}
		if wait := cond.LastTransitionTime.Add(r.DispatchGrace).Sub(now); wait > 0 {
			return ctrl.Result{RequeueAfter: min(wait, findInterval)}, nil
		}
		// Nothing showed up within the grace. Renew the intent's time, and
		// dispatch only once that is written: a process that dies after
		// the next dispatch then leaves its successor a full grace to find
		// that run, instead of an expired one and a second dispatch.
		cond.LastTransitionTime = metav1.NewTime(now)
		r.setIntent(cast, true)
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}

	r.setIntent(cast, false)
	d, err := gh.Dispatch(ctx, cast.Spec.Repository, cast.Spec.Workflow, cast.Spec.Ref, cast.Spec.Inputs, string(cast.UID))
	if err != nil {
		if _, refused := ghapi.AccessProblem(err); refused || ghapi.NotSent(err) {
			// Nothing was created: the request waits for a slot or a
			// rate-limit hold, or GitHub refused the credential. No need
			// to look for a run before the next try: the intent stays this
			// process's own.
			r.setIntent(cast, true)
			return r.githubTrouble(cast, err, now)
		}
		if ghapi.IsPermanent(err) {
			setDispatched(cast, metav1.ConditionFalse, castv1alpha1.ReasonDispatchFailed, err.Error(), now)
			fail(cast, "dispatch failed: "+err.Error(), now)
			return ctrl.Result{}, nil
		}
		// The request may or may not have reached GitHub: the intent stays,
		// so the next attempt looks for the run first.
		return retryLater(fmt.Errorf("dispatching %s: %w", cast.Spec.Workflow, err))
	}
	setDispatched(cast, metav1.ConditionTrue, castv1alpha1.ReasonDispatched,
		fmt.Sprintf("dispatched %s on %s", cast.Spec.Workflow, cast.Spec.Ref), now)
	clearAccess(cast, now)
	if d.RunID == 0 {
		return ctrl.Result{RequeueAfter: findInterval}, nil
	}
	recordRun(cast, d)
	r.touch(cast, now)
	return ctrl.Result{}, nil
}

// find looks for the run dispatched for this Cast since the given time.
func (r *CastReconciler) find(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, since, now time.Time) (ctrl.Result, error) {
	d, err := gh.FindDispatchedRun(ctx, cast.Spec.Repository, cast.Spec.Workflow, string(cast.UID), since.Add(-time.Minute))
	if err != nil {
		return retryLater(fmt.Errorf("looking for the dispatched run: %w", err))
	}
	if d.RunID == 0 {
		return ctrl.Result{RequeueAfter: findInterval}, nil
	}
	setDispatched(cast, metav1.ConditionTrue, castv1alpha1.ReasonDispatched,
		fmt.Sprintf("dispatched %s on %s", cast.Spec.Workflow, cast.Spec.Ref), now)
	recordRun(cast, d)
	r.touch(cast, now)
	return ctrl.Result{}, nil
}

func recordRun(cast *castv1alpha1.Cast, d ghapi.Dispatched) {
	cast.Status.RunID = d.RunID
	if d.HTMLURL != "" {
		cast.Status.RunURL = d.HTMLURL
	}
	cast.Status.Message = fmt.Sprintf("tracking run %d", d.RunID)
}

// setDispatched sets the Dispatched condition. Its lastTransitionTime moves
// with every change of reason, not only of status, because it dates the
// dispatch intent.
func setDispatched(cast *castv1alpha1.Cast, status metav1.ConditionStatus, reason, msg string, now time.Time) {
	conds := &cast.Status.Conditions
	old := meta.FindStatusCondition(*conds, castv1alpha1.ConditionDispatched)
	changed := old == nil || old.Reason != reason
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: castv1alpha1.ConditionDispatched, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: cast.Generation, LastTransitionTime: metav1.NewTime(now),
	})
	if changed {
		meta.FindStatusCondition(*conds, castv1alpha1.ConditionDispatched).LastTransitionTime = metav1.NewTime(now)
	}
	if status == metav1.ConditionFalse && reason != ReasonDispatching {
		cast.Status.Message = msg
	}
}

func (r *CastReconciler) setIntent(cast *castv1alpha1.Cast, recorded bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if recorded {
		r.intents[cast.UID] = true
	} else {
		delete(r.intents, cast.UID)
	}
}

func (r *CastReconciler) intentRecordedHere(cast *castv1alpha1.Cast) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.intents[cast.UID]
}
