// Package controllers holds the Cast reconciler, the only writer of
// Cast.status.
package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// CastReconciler keeps each Cast's status true to its workflow run.
type CastReconciler struct {
	client.Client
	// Clock is injected so time-based logic is testable; nil means real time.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=spell.dev,resources=casts,verbs=get;list;watch
// +kubebuilder:rbac:groups=spell.dev,resources=casts/status,verbs=get;update;patch

// Reconcile reads the Cast, lets reconcile change its status in memory, and
// writes the status once, as a patch, whatever reconcile returned.
func (r *CastReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	cast := &castv1alpha1.Cast{}
	if err := r.Get(ctx, req.NamespacedName, cast); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cast.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	base := cast.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(base.Status, cast.Status) {
			return
		}
		// The optimistic lock turns a concurrent writer into a conflict and a
		// retry, never a silently lost status.
		patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
		if err := r.Status().Patch(ctx, cast, patch); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patching status of %s: %w", req.NamespacedName, err)})
		}
	}()

	return r.reconcile(ctx, cast)
}

// reconcile moves the Cast's status forward; it never writes to the API.
func (r *CastReconciler) reconcile(_ context.Context, cast *castv1alpha1.Cast) (ctrl.Result, error) {
	initStatus(cast, r.clock().Now())
	return ctrl.Result{}, nil
}

func (r *CastReconciler) clock() clock.PassiveClock {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
}

// SetupWithManager registers the reconciler. Status-only updates do not
// trigger it: it wrote them itself.
func (r *CastReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&castv1alpha1.Cast{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("cast").
		Complete(r)
}
