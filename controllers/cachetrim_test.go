package controllers

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// decodedCast builds a Cast whose strings are all its own, as a JSON
// decoder leaves them.
func decodedCast(i int) *castv1alpha1.Cast {
	own := func(s string) string { return string([]byte(s)) }
	return &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: own("team-a"), Name: fmt.Sprintf("cast-%d", i), UID: "uid",
			Labels:        map[string]string{own("app"): own("ci"), own("tier"): own("nightly")},
			Finalizers:    []string{own(Finalizer)},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec: castv1alpha1.CastSpec{Repository: own("org/repo"), Workflow: own("ci.yml"), RunID: ptr.To(int64(100 + i)),
			Inputs: map[string]string{"n": fmt.Sprint(i)}},
		Status: castv1alpha1.CastStatus{Phase: castv1alpha1.CastPhase(own("Queued")), RunID: int64(100 + i),
			Message: own("the run has not started"),
			Conditions: []metav1.Condition{
				{Type: own("Running"), Status: metav1.ConditionStatus(own("False")), Reason: own("Queued"), Message: own("the run has not started")},
				{Type: own("Dispatched"), Status: metav1.ConditionStatus(own("True")), Reason: own("Attached"), Message: fmt.Sprintf("attached to run %d", 100+i)},
			}},
	}
}

func sameBytes(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// The transform changes no value the reconciler reads; it only drops
// managedFields and makes two Casts share their repeated strings and
// identical label maps.
func TestCacheTransformKeepsValuesAndSharesRepeats(t *testing.T) {
	transform := CacheTransform()
	var got [2]*castv1alpha1.Cast
	for i := range got {
		in := decodedCast(i)
		want := in.DeepCopy()
		want.ManagedFields = nil
		out, err := transform(in)
		if err != nil {
			t.Fatal(err)
		}
		got[i] = out.(*castv1alpha1.Cast)
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("transform changed the Cast:\n got %+v\nwant %+v", got[i], want)
		}
	}
	a, b := got[0], got[1]
	shared := map[string][2]string{
		"namespace":          {a.Namespace, b.Namespace},
		"finalizer":          {a.Finalizers[0], b.Finalizers[0]},
		"repository":         {a.Spec.Repository, b.Spec.Repository},
		"workflow":           {a.Spec.Workflow, b.Spec.Workflow},
		"phase":              {string(a.Status.Phase), string(b.Status.Phase)},
		"message":            {a.Status.Message, b.Status.Message},
		"condition type":     {a.Status.Conditions[0].Type, b.Status.Conditions[0].Type},
		"condition status":   {string(a.Status.Conditions[1].Status), string(b.Status.Conditions[1].Status)},
		"condition reason":   {a.Status.Conditions[1].Reason, b.Status.Conditions[1].Reason},
		"condition message":  {a.Status.Conditions[0].Message, b.Status.Conditions[0].Message},
		"status and message": {a.Status.Message, b.Status.Conditions[0].Message},
	}
	for what, s := range shared {
		if !sameBytes(s[0], s[1]) {
			t.Errorf("%s %q is held twice", what, s[0])
		}
	}
	if reflect.ValueOf(a.Labels).UnsafePointer() != reflect.ValueOf(b.Labels).UnsafePointer() {
		t.Error("identical label sets are two maps")
	}
	if a.Status.Conditions[1].Message == b.Status.Conditions[1].Message {
		t.Error("messages naming different runs came out equal")
	}
}

// Casts with other labels keep maps of their own, with their own values.
func TestCacheTransformKeepsDistinctLabels(t *testing.T) {
	transform := CacheTransform()
	x, y := decodedCast(1), decodedCast(2)
	y.Labels["tier"] = "weekly"
	ox, _ := transform(x)
	oy, _ := transform(y)
	if got := ox.(*castv1alpha1.Cast).Labels["tier"]; got != "nightly" {
		t.Errorf("first Cast's tier = %q, want nightly", got)
	}
	if got := oy.(*castv1alpha1.Cast).Labels["tier"]; got != "weekly" {
		t.Errorf("second Cast's tier = %q, want weekly", got)
	}
}

// Slices the decoder grew by doubling are cut to their length, with
// their values unchanged.
func TestCacheTransformFitsDecodedSlices(t *testing.T) {
	in := decodedCast(1)
	conds := make([]metav1.Condition, 0, 9)
	in.Status.Conditions = append(conds, in.Status.Conditions...)
	in.Status.Jobs = append(make([]castv1alpha1.JobStatus, 0, 4), castv1alpha1.JobStatus{
		Name: "build", Steps: append(make([]castv1alpha1.StepStatus, 0, 8), castv1alpha1.StepStatus{Name: "Set up job"}),
	})
	want := in.DeepCopy()
	want.ManagedFields = nil
	out, err := CacheTransform()(in)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*castv1alpha1.Cast)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("transform changed the Cast:\n got %+v\nwant %+v", got, want)
	}
	for what, c := range map[string][2]int{
		"conditions": {len(got.Status.Conditions), cap(got.Status.Conditions)},
		"jobs":       {len(got.Status.Jobs), cap(got.Status.Jobs)},
		"steps":      {len(got.Status.Jobs[0].Steps), cap(got.Status.Jobs[0].Steps)},
	} {
		if c[0] != c[1] {
			t.Errorf("%s: length %d, capacity %d", what, c[0], c[1])
		}
	}
}
