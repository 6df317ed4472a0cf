package runstatus

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// castIn builds a Cast as the controller leaves it in phase p: concluded
// when the phase is terminal and concluded is set.
func castIn(p castv1alpha1.CastPhase, concluded bool) *castv1alpha1.Cast {
	c := &castv1alpha1.Cast{
		TypeMeta:   metav1.TypeMeta{APIVersion: castv1alpha1.GroupVersion.String(), Kind: "Cast"},
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", Generation: 1},
	}
	c.Status.ObservedGeneration = 1
	c.Status.Phase = castv1alpha1.PhasePending
	SetProgress(&c.Status, castv1alpha1.PhasePending, t0)
	c.Status.Phase = p
	SetProgress(&c.Status, p, t0)
	if concluded {
		Conclude(&c.Status, "run "+string(p), 1, t0)
	}
	return c
}

func kstatusOf(t *testing.T, c *castv1alpha1.Cast) status.Status {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: u})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// TestConditionsByPhase holds the contract tools read: kstatus's verdict,
// and what `kubectl wait --for=condition=Complete` and `=Failed` see.
func TestConditionsByPhase(t *testing.T) {
	tests := []struct {
		phase     castv1alpha1.CastPhase
		concluded bool
		kstatus   status.Status
		complete  metav1.ConditionStatus
		failed    metav1.ConditionStatus
		reason    string // Reconciling's reason
	}{
		{castv1alpha1.PhasePending, false, status.InProgressStatus, metav1.ConditionFalse, metav1.ConditionFalse, castv1alpha1.ReasonPending},
		{castv1alpha1.PhaseQueued, false, status.InProgressStatus, metav1.ConditionFalse, metav1.ConditionFalse, castv1alpha1.ReasonQueued},
		{castv1alpha1.PhaseRunning, false, status.InProgressStatus, metav1.ConditionFalse, metav1.ConditionFalse, castv1alpha1.ReasonInProgress},
		// A finished run whose artifacts and cost are still being read.
		{castv1alpha1.PhaseFailed, false, status.InProgressStatus, metav1.ConditionFalse, metav1.ConditionFalse, castv1alpha1.ReasonCollectingResults},
		{castv1alpha1.PhaseSucceeded, true, status.CurrentStatus, metav1.ConditionTrue, metav1.ConditionFalse, castv1alpha1.ReasonSucceeded},
		{castv1alpha1.PhaseFailed, true, status.FailedStatus, metav1.ConditionFalse, metav1.ConditionTrue, castv1alpha1.ReasonFailed},
		{castv1alpha1.PhaseCancelled, true, status.FailedStatus, metav1.ConditionFalse, metav1.ConditionTrue, castv1alpha1.ReasonCancelled},
		{castv1alpha1.PhaseTimedOut, true, status.FailedStatus, metav1.ConditionFalse, metav1.ConditionTrue, castv1alpha1.ReasonTimedOut},
	}
	for _, tt := range tests {
		name := string(tt.phase)
		if tt.phase.IsTerminal() && !tt.concluded {
			name += "/collecting"
		}
		t.Run(name, func(t *testing.T) {
			c := castIn(tt.phase, tt.concluded)
			if got := kstatusOf(t, c); got != tt.kstatus {
				t.Errorf("kstatus = %s, want %s", got, tt.kstatus)
			}
			conds := c.Status.Conditions
			if got := meta.FindStatusCondition(conds, castv1alpha1.ConditionComplete); got == nil || got.Status != tt.complete {
				t.Errorf("Complete = %+v, want %s", got, tt.complete)
			}
			if got := meta.FindStatusCondition(conds, castv1alpha1.ConditionFailed); got == nil || got.Status != tt.failed {
				t.Errorf("Failed = %+v, want %s", got, tt.failed)
			}
			r := meta.FindStatusCondition(conds, castv1alpha1.ConditionReconciling)
			if r == nil || r.Reason != tt.reason || (r.Status == metav1.ConditionTrue) == tt.concluded {
				t.Errorf("Reconciling = %+v, want reason %s, True until concluded", r, tt.reason)
			}
			if c.Status.Concluded() != tt.concluded {
				t.Errorf("Concluded() = %v, want %v", c.Status.Concluded(), tt.concluded)
			}
		})
	}
}

// TestReattemptReopens: a new attempt of a failed run makes the Cast
// InProgress again, with no Stalled or Failed left from the last one.
func TestReattemptReopens(t *testing.T) {
	c := castIn(castv1alpha1.PhaseFailed, true)
	c.Status.Phase = castv1alpha1.PhaseRunning
	SetProgress(&c.Status, castv1alpha1.PhaseRunning, t0)
	if got := kstatusOf(t, c); got != status.InProgressStatus {
		t.Fatalf("kstatus after a re-run = %s, want InProgress", got)
	}
	if c.Status.Concluded() || meta.FindStatusCondition(c.Status.Conditions, castv1alpha1.ConditionStalled) != nil {
		t.Fatalf("conditions after a re-run: %+v", c.Status.Conditions)
	}
}

// TestReconclude: a Cast concluded by an older operator (Complete=True on
// failure) is brought to the scheme, and a current one is left unchanged.
func TestReconclude(t *testing.T) {
	old := castIn(castv1alpha1.PhaseFailed, false)
	meta.SetStatusCondition(&old.Status.Conditions, metav1.Condition{Type: castv1alpha1.ConditionComplete,
		Status: metav1.ConditionTrue, Reason: "Failed", Message: "run failed", LastTransitionTime: metav1.NewTime(t0)})
	Reconclude(&old.Status, 1, t0.Add(1))
	if kstatusOf(t, old) != status.FailedStatus || meta.IsStatusConditionTrue(old.Status.Conditions, castv1alpha1.ConditionComplete) {
		t.Fatalf("old failed Cast after Reconclude: %+v", old.Status.Conditions)
	}
	if m := meta.FindStatusCondition(old.Status.Conditions, castv1alpha1.ConditionFailed).Message; m != "run failed" {
		t.Errorf("outcome message = %q, want the one recorded", m)
	}
	cur := castIn(castv1alpha1.PhaseSucceeded, true)
	before := cur.Status.DeepCopy()
	Reconclude(&cur.Status, 1, t0.Add(60e9))
	if !equalConditions(before.Conditions, cur.Status.Conditions) {
		t.Errorf("Reconclude changed a current Cast:\n%+v\n%+v", before.Conditions, cur.Status.Conditions)
	}
}

func equalConditions(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
