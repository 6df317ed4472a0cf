package hub

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// A Cast's resting state keeps its JSON once: Data lies inside the SSE
// frame, capped so that no append through Data can write into the frame,
// and Get, List and the frame all carry the same bytes.
func TestStateKeepsOneCopyOfItsJSON(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "a", 1, castv1alpha1.PhaseRunning, 10), true)
	// A progress change: the live update is "progress", the resting state
	// "status", each with a frame of its own.
	h.OnUpdate(nil, cast("ns", "a", 2, castv1alpha1.PhaseRunning, 20))
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	u := h.casts[key].update
	if u.Kind != KindStatus {
		t.Fatalf("resting state is %q, want status", u.Kind)
	}
	f, d := u.Frame(), u.Data
	at := len(f) - 2 - len(d)
	if at < 0 || !bytes.Equal(f[at:at+len(d)], d) || &f[at] != &d[0] {
		t.Fatalf("Data does not point into the frame:\nframe %q\ndata  %q", f, d)
	}
	if cap(d) != len(d) || cap(f) < len(f) {
		t.Errorf("cap(Data) = %d, len %d: an append could overwrite the frame", cap(d), len(d))
	}
	if !bytes.Contains(d, []byte(`"progress":20`)) {
		t.Errorf("Data is not the latest state: %s", d)
	}
	got, ok := h.Get(key)
	if !ok || !bytes.Equal(got, d) {
		t.Errorf("Get = %s, want %s", got, d)
	}
}

// The hub shares the informer's status instead of copying it, and follows
// the informer to its newer object even when nothing visible changed, so
// the replaced object is not kept alive.
func TestStateFollowsTheInformersObject(t *testing.T) {
	h := newHub()
	first := cast("ns", "a", 1, castv1alpha1.PhaseRunning, 10)
	h.OnAdd(first, true)
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	if h.casts[key].status != &first.Status {
		t.Fatal("the hub copied the status instead of sharing the informer's")
	}
	relabelled := cast("ns", "a", 2, castv1alpha1.PhaseRunning, 10)
	relabelled.Labels = map[string]string{"team": "other"}
	h.OnUpdate(first, relabelled)
	st := h.casts[key]
	if st.status != &relabelled.Status || st.labels["team"] != "other" {
		t.Errorf("after a labels-only update the hub still holds the old object (labels %v)", st.labels)
	}
}
