package intern

import (
	"maps"
	"reflect"
	"strconv"
	"testing"
	"unsafe"
)

func TestStringShares(t *testing.T) {
	a, b := string([]byte("spell-platform/spells")), string([]byte("spell-platform/spells"))
	if unsafe.StringData(String(a)) != unsafe.StringData(String(b)) {
		t.Error("equal strings decoded apart are not shared")
	}
	if String("") != "" {
		t.Error("the empty string is not passed through")
	}
}

func TestFixedLeavesOneOfAKindMessages(t *testing.T) {
	a, b := string([]byte("run 42 started")), string([]byte("run 42 started"))
	if unsafe.StringData(Fixed(a)) == unsafe.StringData(Fixed(b)) {
		t.Error("a message naming a run was interned")
	}
	c, d := string([]byte("the run is executing")), string([]byte("the run is executing"))
	if unsafe.StringData(Fixed(c)) != unsafe.StringData(Fixed(d)) {
		t.Error("a fixed message was not shared")
	}
}

func TestLabelSetsShareEqualSetsOnly(t *testing.T) {
	var l LabelSets
	x := l.Share(map[string]string{"team": "a", "tier": "nightly"})
	y := l.Share(map[string]string{string([]byte("team")): "a", "tier": string([]byte("nightly"))})
	if reflect.ValueOf(x).UnsafePointer() != reflect.ValueOf(y).UnsafePointer() {
		t.Error("equal label sets are two maps")
	}
	z := l.Share(map[string]string{"team": "b", "tier": "nightly"})
	if !maps.Equal(z, map[string]string{"team": "b", "tier": "nightly"}) || !maps.Equal(x, map[string]string{"team": "a", "tier": "nightly"}) {
		t.Errorf("values changed: %v %v", x, z)
	}
	if l.Share(nil) != nil {
		t.Error("an empty set is not passed through")
	}
}

// Label sets that differ only in how their pairs split are not confused.
func TestKeyIsUnambiguous(t *testing.T) {
	k1 := string(key(nil, map[string]string{"a": "b:c"}))
	k2 := string(key(nil, map[string]string{"a:b": "c"}))
	k3 := string(key(nil, map[string]string{"a": "b", "c": ""}))
	if k1 == k2 || k1 == k3 || k2 == k3 {
		t.Errorf("keys collide: %q %q %q", k1, k2, k3)
	}
}

// Past MaxLabelSets distinct sets, objects keep their own maps, with their
// own values, and the table stops growing.
func TestLabelSetsAreBounded(t *testing.T) {
	var l LabelSets
	for i := range MaxLabelSets + 10 {
		s := strconv.Itoa(i)
		if got := l.Share(map[string]string{"i": s}); got["i"] != s {
			t.Fatalf("Share for %q = %v", s, got)
		}
	}
	if len(l.sets) != MaxLabelSets {
		t.Errorf("holds %d label sets, bound %d", len(l.sets), MaxLabelSets)
	}
}
