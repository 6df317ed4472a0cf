package hub

import (
	"maps"
	"reflect"
	"testing"
	"unsafe"
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
