package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

func TestInitStatus(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		cast        castv1alpha1.Cast
		wantPhase   castv1alpha1.CastPhase
		wantMessage string
		wantConds   int
		wantRunID   int64
		// wantDispatched is the Dispatched condition's status; Reconciling
		// starts True, the others False.
		wantDispatched metav1.ConditionStatus
	}{
		{
			name: "new cast to dispatch",
			cast: castv1alpha1.Cast{
				ObjectMeta: metav1.ObjectMeta{Generation: 1},
				Spec:       castv1alpha1.CastSpec{Workflow: "cast.yml"},
			},
			wantPhase: castv1alpha1.PhasePending, wantMessage: "waiting to dispatch cast.yml", wantConds: 5,
			wantDispatched: metav1.ConditionFalse,
		},
		{
			name: "new cast attached to a run",
			cast: castv1alpha1.Cast{
				ObjectMeta: metav1.ObjectMeta{Generation: 1},
				Spec:       castv1alpha1.CastSpec{Workflow: "cast.yml", RunID: ptr.To[int64](7)},
			},
			wantPhase: castv1alpha1.PhasePending, wantMessage: "attached to run 7, waiting for its first event", wantConds: 5, wantRunID: 7,
			wantDispatched: metav1.ConditionTrue,
		},
		{
			name: "running cast is left alone",
			cast: castv1alpha1.Cast{
				ObjectMeta: metav1.ObjectMeta{Generation: 2},
				Status:     castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, Message: "step 2", ObservedGeneration: 1},
			},
			wantPhase: castv1alpha1.PhaseRunning, wantMessage: "step 2", wantConds: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cast := tt.cast.DeepCopy()
			initStatus(cast, now)
			if cast.Status.Phase != tt.wantPhase || cast.Status.Message != tt.wantMessage {
				t.Errorf("phase, message = %q, %q; want %q, %q", cast.Status.Phase, cast.Status.Message, tt.wantPhase, tt.wantMessage)
			}
			if cast.Status.ObservedGeneration != cast.Generation {
				t.Errorf("observedGeneration = %d, want %d", cast.Status.ObservedGeneration, cast.Generation)
			}
			if len(cast.Status.Conditions) != tt.wantConds {
				t.Fatalf("got %d conditions, want %d", len(cast.Status.Conditions), tt.wantConds)
			}
			if cast.Status.RunID != tt.wantRunID {
				t.Errorf("runID = %d, want %d", cast.Status.RunID, tt.wantRunID)
			}
			for _, c := range cast.Status.Conditions {
				want := metav1.ConditionFalse
				switch c.Type {
				case castv1alpha1.ConditionDispatched:
					want = tt.wantDispatched
				case castv1alpha1.ConditionReconciling:
					want = metav1.ConditionTrue
				}
				if c.Status != want || !c.LastTransitionTime.Time.Equal(now) || c.ObservedGeneration != cast.Generation {
					t.Errorf("condition %s = %+v; want %s at %v for generation %d", c.Type, c, want, now, cast.Generation)
				}
			}
			if tt.wantConds > 0 && meta.FindStatusCondition(cast.Status.Conditions, castv1alpha1.ConditionComplete) == nil {
				t.Error("no Complete condition")
			}
		})
	}
}
