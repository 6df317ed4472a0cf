package hub

import (
	"maps"
	"reflect"
	"testing"
	"unsafe"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Two Casts decoded apart share their equal strings and label sets once
// trimmed, and keep their own values where they differ.
func TestTrimSharesEqualStringsAndLabels(t *testing.T) {
	a, b := fullCast(), fullCast()
	// As the API server's JSON decodes them: every string its own copy.
	b.Namespace, b.Spec.Repository = string([]byte(a.Namespace)), string([]byte(a.Spec.Repository))
	b.Status.Message = string([]byte(a.Status.Message))
	b.Labels = map[string]string{string([]byte("team")): string([]byte("a"))}
	ta, _ := Trim(a)
	tb, _ := Trim(b)
	x, y := ta.(*Trimmed), tb.(*Trimmed)
	for name, pair := range map[string][2]string{
		"namespace": {x.Namespace, y.Namespace}, "repository": {x.Repository, y.Repository},
		"message": {x.Status.Message, y.Status.Message},
	} {
		if unsafe.StringData(pair[0]) != unsafe.StringData(pair[1]) {
			t.Errorf("%s %q not shared", name, pair[0])
		}
	}
	if reflect.ValueOf(x.Labels).UnsafePointer() != reflect.ValueOf(y.Labels).UnsafePointer() {
		t.Error("equal label sets not shared")
	}
	c := fullCast()
	c.Labels = map[string]string{"team": "b"}
	tc, _ := Trim(c)
	if got := tc.(*Trimmed).Labels; !maps.Equal(got, c.Labels) {
		t.Errorf("labels %v, want %v", got, c.Labels)
	}
	if got := x.Labels; !maps.Equal(got, a.Labels) {
		t.Errorf("labels %v, want %v", got, a.Labels)
	}
}

// The words of two Casts' jobs are shared once trimmed: statuses,
// conclusions, names and runner labels recur in every run of a workflow.
func TestTrimSharesTheJobsWords(t *testing.T) {
	decoded := func() *Trimmed {
		c := fullCast()
		// Every string its own copy, as the API server's JSON decodes them.
		fresh := func(s string) string { return string([]byte(s)) }
		c.Status.Jobs = []castv1alpha1.JobStatus{{ID: 1, Name: fresh("build"), Status: fresh("completed"),
			Conclusion: fresh("success"), Labels: []string{fresh("ubuntu-latest")},
			Steps: []castv1alpha1.StepStatus{{Number: 1, Name: fresh("Set up job"), Status: fresh("completed"), Conclusion: fresh("success")}}}}
		got, err := Trim(c)
		if err != nil {
			t.Fatal(err)
		}
		return got.(*Trimmed)
	}
	a, b := decoded().Status.Jobs[0], decoded().Status.Jobs[0]
	for name, pair := range map[string][2]string{
		"job name": {a.Name, b.Name}, "job status": {a.Status, b.Status}, "job conclusion": {a.Conclusion, b.Conclusion},
		"label": {a.Labels[0], b.Labels[0]}, "step name": {a.Steps[0].Name, b.Steps[0].Name},
		"step status": {a.Steps[0].Status, b.Steps[0].Status}, "step conclusion": {a.Steps[0].Conclusion, b.Steps[0].Conclusion},
	} {
		if pair[0] != pair[1] || unsafe.StringData(pair[0]) != unsafe.StringData(pair[1]) {
			t.Errorf("%s %q not shared", name, pair[0])
		}
	}
}
