package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// retryLater turns a GitHub error into a requeue: after the rate-limit reset
// or Retry-After GitHub asked for, otherwise through the controller's
// exponential backoff, so an outage never becomes a hot loop.
func retryLater(err error) (ctrl.Result, error) {
	if after := ghapi.RetryAfter(err); after > 0 {
		return ctrl.Result{RequeueAfter: after}, nil
	}
	return ctrl.Result{}, err
}

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

// fail ends a Cast that can never run, such as one GitHub refused to
// dispatch.
func fail(cast *castv1alpha1.Cast, msg string, now time.Time) {
	finish(cast, castv1alpha1.PhaseFailed, msg, now)
}

func finish(cast *castv1alpha1.Cast, phase castv1alpha1.CastPhase, msg string, now time.Time) {
	st := &cast.Status
	st.Phase, st.Message = phase, msg
	at := metav1.NewTime(now.UTC().Truncate(time.Second))
	st.FinishedAt = &at
	if st.StartedAt != nil {
		st.DurationMillis = at.Sub(st.StartedAt.Time).Milliseconds()
	}
	runstatus.SetProgress(st, phase, now)
}

// complete fills in what only a finished run has, artifacts and cost, then
// concludes the Cast (Complete or Failed). If GitHub cannot say within CompletionGrace, Complete is
// set without them rather than never.
func (r *CastReconciler) complete(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client, ghErr error, now time.Time) (ctrl.Result, error) {
	st := &cast.Status
	if st.Concluded() {
		runstatus.Reconclude(st, cast.Generation, now)
		return ctrl.Result{}, nil
	}
	msg := st.Message
	switch {
	case st.RunID == 0:
	case gh == nil:
		msg += "; artifacts and cost unknown: " + ghErr.Error()
	default:
		err := r.collectResults(ghapi.WithPriority(ctx, ghapi.Essential), cast, gh)
		if err != nil {
			finished := now
			if st.FinishedAt != nil {
				finished = st.FinishedAt.Time
			}
			if now.Sub(finished) < r.CompletionGrace && !ghapi.IsPermanent(err) {
				return retryLater(err)
			}
			msg += "; artifacts and cost unknown: " + err.Error()
		}
	}
	runstatus.Conclude(st, msg, cast.Generation, now)
	r.Inbox.Forget(client.ObjectKeyFromObject(cast))
	r.forget(cast)
	return ctrl.Result{}, nil
}

func (r *CastReconciler) collectResults(ctx context.Context, cast *castv1alpha1.Cast, gh *ghapi.Client) error {
	st := &cast.Status
	artifacts, err := gh.ListArtifacts(ctx, cast.Spec.Repository, st.RunID)
	if err != nil {
		return fmt.Errorf("listing artifacts of run %d: %w", st.RunID, err)
	}
	jobs, err := gh.ListJobs(ctx, cast.Spec.Repository, st.RunID, max(st.RunAttempt, 1))
	if err != nil {
		return fmt.Errorf("listing jobs of run %d: %w", st.RunID, err)
	}
	st.Artifacts = artifacts
	st.CostCents = runstatus.CostCents(jobs, r.Rates)
	return nil
}

func (r *CastReconciler) forget(cast *castv1alpha1.Cast) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.lastNews, cast.UID)
	delete(r.postponed, cast.UID)
	delete(r.owedJobs, cast.UID)
	delete(r.intents, cast.UID)
}

// finalize cancels the run of a Cast deleted before it finished. Deletion
// never hangs on GitHub: after CancelGrace the finalizer goes anyway, with a
// Warning event saying the run may still be going.
func (r *CastReconciler) finalize(ctx context.Context, cast *castv1alpha1.Cast) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(cast, Finalizer) {
		return ctrl.Result{}, nil
	}
	if !cast.Status.Phase.IsTerminal() && cast.Status.RunID != 0 {
		gh, err := r.GitHub.For(ctx, cast)
		if err == nil {
			err = gh.CancelRun(ctx, cast.Spec.Repository, cast.Status.RunID)
		}
		switch {
		case err == nil:
			r.event(cast, corev1.EventTypeNormal, castv1alpha1.ReasonCancelled, "Delete", "cancelled run %d", cast.Status.RunID)
		case errors.Is(err, ghapi.ErrNoCredentials) || ghapi.IsPermanent(err) ||
			r.now().Sub(cast.DeletionTimestamp.Time) >= r.CancelGrace:
			r.event(cast, corev1.EventTypeWarning, castv1alpha1.EventReasonCancelFailed, "Delete",
				"gave up cancelling run %d, it may still be running: %v", cast.Status.RunID, err)
		default:
			return retryLater(fmt.Errorf("cancelling run %d of deleted cast: %w", cast.Status.RunID, err))
		}
	}
	controllerutil.RemoveFinalizer(cast, Finalizer)
	if err := r.Update(ctx, cast); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("removing finalizer: %w", err))
	}
	r.Inbox.Forget(client.ObjectKeyFromObject(cast))
	r.forget(cast)
	return ctrl.Result{}, nil
}

func (r *CastReconciler) event(cast *castv1alpha1.Cast, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(cast, nil, eventType, reason, action, note, args...)
	}
}
