package hub

import (
	"bytes"
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// A Cast's resting state keeps no JSON: snapshots, Get and List render
// it from the informer's object, with the id and data of the change that
// made it, and the latest values.
func TestStateIsRenderedOnDemand(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "a", 1, castv1alpha1.PhaseRunning, 10), true)
	// A progress change: the live update is "progress", the resting state
	// "status".
	h.OnUpdate(nil, cast("ns", "a", 2, castv1alpha1.PhaseRunning, 20))
	h.MarkSynced("2")
	_, init := h.Subscribe(Filter{}, "")
	if len(init.Updates) != 1 {
		t.Fatalf("snapshot has %d updates, want 1", len(init.Updates))
	}
	u := init.Updates[0]
	if u.Kind != wire.KindStatus || u.ID != "2" || u.Data != nil || u.Frame() != nil {
		t.Fatalf("resting state = %s@%s with %d bytes of data kept, want status@2 and none", u.Kind, u.ID, len(u.Data))
	}
	frame, err := u.AppendEvent(nil, u.Kind)
	if err != nil || !bytes.HasPrefix(frame, []byte("id: 2\nevent: status\ndata: {")) || !bytes.Contains(frame, []byte(`"progress":20`)) {
		t.Fatalf("rendered frame = %q (%v)", frame, err)
	}
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	got, ok := h.Get(key)
	var snap wire.Snapshot
	if !ok || json.Unmarshal(got, &snap) != nil || snap.Progress != 20 || snap.ResourceVersion != "2" {
		t.Errorf("Get = %s, %v", got, ok)
	}
	if l := h.List(Filter{}); len(l) != 1 || !bytes.Contains(l[0], []byte(`"castId":"ns/a"`)) {
		t.Errorf("List = %q", l)
	}
}

// The hub shares the informer's object instead of copying it, and follows
// the informer to its newer object even when nothing visible changed, so
// the replaced object is not kept alive; the event id stays the change's.
func TestStateFollowsTheInformersObject(t *testing.T) {
	h := newHub()
	first := trim(cast("ns", "a", 1, castv1alpha1.PhaseRunning, 10))
	h.OnAdd(first, true)
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	if h.casts[key].cast != first {
		t.Fatal("the hub copied the Cast instead of sharing the informer's")
	}
	c := cast("ns", "a", 2, castv1alpha1.PhaseRunning, 10)
	c.Labels = map[string]string{"team": "other"}
	relabelled := trim(c)
	h.OnUpdate(first, relabelled)
	st := h.casts[key]
	if st.cast != relabelled || st.rv != 1 {
		t.Errorf("after a labels-only update the hub holds labels %v at id %d, want the new object at id 1", st.cast.Labels, st.rv)
	}
	data, _ := h.Get(key)
	var snap wire.Snapshot
	if json.Unmarshal(data, &snap) != nil || snap.Labels["team"] != "other" || snap.ResourceVersion != "1" {
		t.Errorf("Get after a labels-only update = %s", data)
	}
}

func TestCompareKeysIsTheOrderOfTheirStrings(t *testing.T) {
	keys := []types.NamespacedName{{Namespace: "a", Name: "x"}, {Namespace: "a-b", Name: "a"}, {Namespace: "a", Name: "b"},
		{Namespace: "ab", Name: "z"}, {Namespace: "a0", Name: "c"}, {Namespace: "b", Name: ""}}
	for _, a := range keys {
		for _, b := range keys {
			want := 0
			if a.String() < b.String() {
				want = -1
			} else if a.String() > b.String() {
				want = 1
			}
			if got := compareKeys(a, b); got != want {
				t.Errorf("compareKeys(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}
