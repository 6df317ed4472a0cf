package hub

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

func fullCast() *castv1alpha1.Cast {
	started := metav1.NewTime(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	return &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{
			Name: "deploy", Namespace: "team-a", UID: "u-1", ResourceVersion: "42",
			Labels:        map[string]string{"team": "a"},
			Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"big":"json"}`},
			Finalizers:    []string{"spell.dev/cancel-run"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec: castv1alpha1.CastSpec{Repository: "o/r", Workflow: "cast.yml", Ref: "main",
			Inputs: map[string]string{"env": "prod"}},
		Status: castv1alpha1.CastStatus{
			Phase: castv1alpha1.PhaseRunning, Progress: 40, Message: "step 2", RunID: 7, RunAttempt: 1,
			RunURL: "https://github.com/o/r/actions/runs/7", StartedAt: &started,
			Artifacts:          []castv1alpha1.Artifact{{Name: "logs"}},
			ObservedGeneration: 3,
			Conditions:         []metav1.Condition{{Type: "Running", Status: metav1.ConditionTrue, Reason: "Running"}},
		},
	}
}

// What clients receive is the same from a trimmed Cast as from the whole.
func TestTrimKeepsWhatStreamsSend(t *testing.T) {
	full := fullCast()
	got, err := Trim(full)
	if err != nil {
		t.Fatal(err)
	}
	trimmed := got.(*Trimmed)
	now := time.Date(2026, 11, 30, 10, 5, 0, 0, time.UTC)
	if a, b := SnapshotOf(full, now), trimmed.snapshot(now); !reflect.DeepEqual(a, b) {
		t.Errorf("snapshot of the trimmed Cast differs:\n%+v\n%+v", b, a)
	}
	if trimmed.Status.Conditions != nil || trimmed.Status.ObservedGeneration != 0 {
		t.Errorf("trimmed Cast still holds what streams never send: %+v", trimmed)
	}
	if trimmed.Name != full.Name || trimmed.Namespace != full.Namespace || trimmed.ResourceVersion != full.ResourceVersion {
		t.Errorf("identity lost: %q/%q@%q", trimmed.Namespace, trimmed.Name, trimmed.ResourceVersion)
	}
	if other, _ := Trim("not a cast"); other != "not a cast" {
		t.Errorf("Trim changed a non-Cast: %v", other)
	}
}

// A change to conditions alone sends nothing: clients never see them.
func TestTrimmedConditionChangeIsNoNews(t *testing.T) {
	a, _ := Trim(fullCast())
	changed := fullCast()
	changed.Status.Conditions[0].Reason = "Other"
	b, _ := Trim(changed)
	if kind, news := Classify(&a.(*Trimmed).Status, &b.(*Trimmed).Status); news {
		t.Errorf("condition-only change classified as %q news", kind)
	}
	progressed := fullCast()
	progressed.Status.Progress = 60
	c, _ := Trim(progressed)
	if kind, news := Classify(&a.(*Trimmed).Status, &c.(*Trimmed).Status); !news || kind != wire.KindProgress {
		t.Errorf("progress change = %q, %v; want progress news", kind, news)
	}
}
