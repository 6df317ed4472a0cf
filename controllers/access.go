package controllers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
)

// githubTrouble turns a failed GitHub read into the Cast's GitHubAccess
// condition and a requeue. Credential problems and a short budget wait
// calmly (a user must act, or the reset must come) instead of retrying
// into a storm; anything else backs off as before.
func (r *CastReconciler) githubTrouble(cast *castv1alpha1.Cast, err error, now time.Time) (ctrl.Result, error) {
	if ae, ok := ghapi.AccessProblem(err); ok {
		setAccess(cast, ae.Reason, accessMessage(cast, ae), now)
		return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
	}
	var le *ghapi.LimitError
	if errors.As(err, &le) && le.Reason != "paced" {
		setAccess(cast, castv1alpha1.ReasonBudgetLow, budgetMessage(le), now)
		return ctrl.Result{RequeueAfter: wait.Jitter(le.Wait, 0.1)}, nil
	}
	return retryLater(err)
}

// waitsForGitHub: a credential problem or the budget put the call off;
// retrying at once would not help, and nothing else needs to stop.
func waitsForGitHub(err error) bool {
	if _, ok := ghapi.AccessProblem(err); ok {
		return true
	}
	var le *ghapi.LimitError
	return errors.As(err, &le) && le.Reason != "paced"
}

// accessMessage names the repository and what is wrong.
func accessMessage(cast *castv1alpha1.Cast, ae *ghapi.AccessError) string {
	msg := ae.Error()
	if !strings.Contains(msg, cast.Spec.Repository) {
		msg = fmt.Sprintf("%s: %s", cast.Spec.Repository, msg)
	}
	return msg
}

// budgetMessage stays the same for the whole wait, so it is written once.
func budgetMessage(le *ghapi.LimitError) string {
	if le.Reason == "held" {
		return fmt.Sprintf("GitHub rate-limited credential %s; news from REST resync is delayed, webhooks still apply", le.Credential)
	}
	return fmt.Sprintf("GitHub credential %s is short of budget until it resets at %s; REST resyncs are stretched, webhooks still apply",
		le.Credential, le.Reset.UTC().Format(time.RFC3339))
}

// setAccess reports a GitHub access problem on the Cast.
func setAccess(cast *castv1alpha1.Cast, reason, msg string, now time.Time) {
	meta.SetStatusCondition(&cast.Status.Conditions, metav1.Condition{
		Type: castv1alpha1.ConditionGitHubAccess, Status: metav1.ConditionFalse, Reason: reason,
		Message: msg, ObservedGeneration: cast.Generation, LastTransitionTime: metav1.NewTime(now),
	})
}

// clearAccess marks a reported problem as gone; a Cast that never had one
// keeps no condition, so the healthy path writes nothing extra.
func clearAccess(cast *castv1alpha1.Cast, now time.Time) {
	if !meta.IsStatusConditionFalse(cast.Status.Conditions, castv1alpha1.ConditionGitHubAccess) {
		return
	}
	meta.SetStatusCondition(&cast.Status.Conditions, metav1.Condition{
		Type: castv1alpha1.ConditionGitHubAccess, Status: metav1.ConditionTrue, Reason: castv1alpha1.ReasonAccessRestored,
		Message: "GitHub answers for this Cast again", ObservedGeneration: cast.Generation, LastTransitionTime: metav1.NewTime(now),
	})
}
