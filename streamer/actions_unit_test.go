package streamer

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

func TestPermissions(t *testing.T) {
	yes := wire.Permission{Allowed: true}
	going := wire.Permission{Reason: "the Cast is still going: cancel it first, or wait for it to finish"}
	noRun := wire.Permission{Reason: "the Cast has no workflow run to re-run: create a new Cast from its spec instead"}
	finished := func(p castv1alpha1.CastPhase) wire.Permission {
		return wire.Permission{Reason: "the Cast already finished as " + string(p) + ": there is nothing to cancel"}
	}
	for _, tc := range []struct {
		name                       string
		snap                       wire.Snapshot
		denied                     string
		cancel, rerun, rerunFailed wire.Permission
	}{
		{"pending", wire.Snapshot{Status: castv1alpha1.PhasePending}, "", yes, going, going},
		{"running", wire.Snapshot{Status: castv1alpha1.PhaseRunning, RunID: 1}, "", yes, going, going},
		{"succeeded", wire.Snapshot{Status: castv1alpha1.PhaseSucceeded, RunID: 1}, "", finished(castv1alpha1.PhaseSucceeded), yes,
			wire.Permission{Reason: "the run succeeded: no job failed"}},
		{"failed", wire.Snapshot{Status: castv1alpha1.PhaseFailed, RunID: 1}, "", finished(castv1alpha1.PhaseFailed), yes, yes},
		{"cancelled before dispatch", wire.Snapshot{Status: castv1alpha1.PhaseCancelled}, "", finished(castv1alpha1.PhaseCancelled), noRun, noRun},
		{"denied", wire.Snapshot{Status: castv1alpha1.PhaseRunning}, "no", wire.Permission{Reason: "no"}, wire.Permission{Reason: "no"}, wire.Permission{Reason: "no"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r, rf := permissions(tc.snap, tc.denied)
			if c != tc.cancel || r != tc.rerun || rf != tc.rerunFailed {
				t.Errorf("permissions = %+v, %+v, %+v; want %+v, %+v, %+v", c, r, rf, tc.cancel, tc.rerun, tc.rerunFailed)
			}
		})
	}
}

func TestInvalidMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   metav1.Status
		want string
	}{
		{"no causes", metav1.Status{Message: "Cast.spell.dev \"x\" is invalid"}, "Cast.spell.dev \"x\" is invalid"},
		{"one CEL cause", metav1.Status{Message: "long", Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Message: "Invalid value: the Cast already finished as Failed: there is nothing to cancel"}}}},
			"the Cast already finished as Failed: there is nothing to cancel"},
		{"two causes", metav1.Status{Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Message: "Invalid value: a"}, {Message: "b"}}}}, "a; b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := invalidMessage(tc.st); got != tc.want {
				t.Errorf("invalidMessage = %q, want %q", got, tc.want)
			}
		})
	}
}
