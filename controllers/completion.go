package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

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

// complete fills in what only a finished run has, artifacts, cost and its
// jobs' final state, then concludes the Cast (Complete or Failed). If
// GitHub cannot say within CompletionGrace, the Cast is concluded without
// them rather than never.
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
	// The listing has every job's last word, where a webhook was lost.
	for _, j := range jobs {
		runstatus.ApplyJob(st, j)
	}
	if len(jobs) > 0 {
		runstatus.CountOmitted(st, jobs)
	}
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
