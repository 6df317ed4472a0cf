package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
)

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
