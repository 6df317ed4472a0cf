package hub

import (
	"slices"
	"testing"

	toolscache "k8s.io/client-go/tools/cache"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// store stands in for the informer's indexer: what the hub rebases from.
type store struct {
	objs []any
	rv   string
}

func (s *store) source() ([]any, string) { return s.objs, s.rv }

// lostFuture builds a hub that handed out ids up to 12: a@5 and b@6 at
// the first list (7), then a finished (10), c was created (11) and b
// deleted (12), the changes an etcd restore to revision 7 takes away.
func lostFuture(t *testing.T) (*Hub, *store, *Subscriber) {
	t.Helper()
	h := newHub()
	st := &store{}
	var rebasedFrom, rebasedTo int64
	h.SetSource(st.source, func(from, to int64) { rebasedFrom, rebasedTo = from, to })
	t.Cleanup(func() {
		if h.Rebases() > 0 && rebasedFrom != 12 {
			t.Errorf("onRebase(%d, %d): want it called from 12", rebasedFrom, rebasedTo)
		}
	})
	h.OnAdd(cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("ns", "b", 6, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("7")
	sub, _ := h.Subscribe(Filter{Namespace: "ns"}, "")
	h.OnUpdate(nil, cast("ns", "a", 10, castv1alpha1.PhaseSucceeded, 100))
	h.OnAdd(cast("ns", "c", 11, castv1alpha1.PhaseRunning, 0), false)
	h.OnDelete(cast("ns", "b", 12, castv1alpha1.PhaseRunning, 0))
	equal(t, kinds(sub.Drain()), []string{"complete a@10", "status c@11", "deleted b@12"})
	return h, st, sub
}

// relist delivers a restored store as client-go does after a relist:
// the deletions first, then every listed object.
func relist(h *Hub, st *store, known map[string]bool) {
	for _, o := range st.objs {
		delete(known, o.(*castv1alpha1.Cast).Name)
	}
	for name := range known {
		h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "ns/" + name, Obj: cast("ns", name, 11, castv1alpha1.PhaseRunning, 0)})
	}
	for _, o := range st.objs {
		h.OnUpdate(nil, o)
	}
}

func TestRestoreRebasesAndAnswersLostIDsInFull(t *testing.T) {
	h, st, sub := lostFuture(t)
	st.objs = []any{cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), cast("ns", "b", 6, castv1alpha1.PhaseRunning, 0)}
	st.rv = "8"
	relist(h, st, map[string]bool{"a": true, "c": true})

	if h.Rebases() != 1 {
		t.Fatalf("%d rebases, want 1: a@5 after a@10 proves the history went back", h.Rebases())
	}
	if !sub.Closed() || !sub.Rebased() {
		t.Error("an open stream must end so its client reconnects for the restored state")
	}
	for _, id := range []string{"12", "11", "8", "7", "5"} {
		_, init := h.Subscribe(Filter{Namespace: "ns"}, id)
		if init.Resumed {
			t.Errorf("Last-Event-ID %s from before the restore: resumed, want a full snapshot", id)
		}
		equal(t, kinds(init.Updates), []string{"status a@5", "status b@6"})
		if init.SyncedID != "8" {
			t.Errorf("synced id %s, want the store's 8", init.SyncedID)
		}
	}

	// The new history: changes are news again, and no rebase follows.
	live, _ := h.Subscribe(Filter{Namespace: "ns"}, "")
	h.OnUpdate(nil, cast("ns", "a", 9, castv1alpha1.PhaseRunning, 40))
	equal(t, kinds(live.Drain()), []string{"progress a@9"})
	// Ids up to 12 were handed out in both histories: they stay untrusted.
	if _, init := h.Subscribe(Filter{Namespace: "ns"}, "9"); init.Resumed {
		t.Error("resumed from 9, an id the lost history also handed out")
	}
	h.OnUpdate(nil, cast("ns", "b", 13, castv1alpha1.PhaseSucceeded, 100))
	_, init := h.Subscribe(Filter{Namespace: "ns"}, "13")
	if !init.Resumed || len(init.Updates) != 0 {
		t.Errorf("resume from 13, past the lost history: resumed %v with %v", init.Resumed, kinds(init.Updates))
	}
	if h.Rebases() != 1 || live.Closed() {
		t.Errorf("%d rebases, live stream closed %v: the new history is one history", h.Rebases(), live.Closed())
	}
}

func TestRestoreWithBumpedRevisionRebasesToo(t *testing.T) {
	// etcdutl snapshot restore --bump-revision: the store's list is far
	// ahead, the Casts still come back with their old versions.
	h, st, _ := lostFuture(t)
	st.objs = []any{cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), cast("ns", "b", 6, castv1alpha1.PhaseRunning, 0)}
	st.rv = "1000012"
	relist(h, st, map[string]bool{"a": true, "c": true})
	if h.Rebases() != 1 {
		t.Fatalf("%d rebases, want 1", h.Rebases())
	}
	if _, init := h.Subscribe(Filter{Namespace: "ns"}, "12"); init.Resumed {
		t.Error("resumed from a lost id")
	}
	_, init := h.Subscribe(Filter{Namespace: "ns"}, "1000012")
	if !init.Resumed {
		t.Error("an id from after the rebase must resume exactly")
	}
}

func TestDeletedCastComingBackOlderIsAGoingBack(t *testing.T) {
	// Only b changed after the snapshot: it was deleted. The restore
	// brings it back with its old version.
	h := newHub()
	st := &store{}
	h.SetSource(st.source, nil)
	h.OnAdd(cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("ns", "b", 6, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("7")
	h.OnDelete(cast("ns", "b", 9, castv1alpha1.PhaseRunning, 0))
	st.objs = []any{cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), cast("ns", "b", 6, castv1alpha1.PhaseRunning, 0)}
	st.rv = "7"
	h.OnAdd(st.objs[1], false)
	if h.Rebases() != 1 {
		t.Fatalf("%d rebases, want 1", h.Rebases())
	}
	_, init := h.Subscribe(Filter{}, "9")
	if init.Resumed {
		t.Error("resumed from the lost deletion's id")
	}
	equal(t, kinds(init.Updates), []string{"status a@5", "status b@6"})
}

func TestRelistInOneHistoryIsNoGoingBack(t *testing.T) {
	// A watch that expired (410) and relisted: unchanged Casts come again
	// with their old versions, changed ones with newer versions in key
	// order (not version order), deleted ones as deletions of unknown final
	// state; the list may be ahead of what the hub has processed when it is
	// marked synced.
	h := newHub()
	h.SetSource((&store{}).source, nil)
	h.OnAdd(cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("ns", "b", 6, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("ns", "c", 7, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("20")
	h.OnUpdate(nil, cast("ns", "c", 8, castv1alpha1.PhaseRunning, 10)) // queued before the hub was marked synced
	h.OnUpdate(nil, cast("ns", "b", 9, castv1alpha1.PhaseRunning, 10))
	h.OnDelete(cast("ns", "e", 30, castv1alpha1.PhaseRunning, 0))
	// The relist, in key order: a unchanged, b changed at 25, c deleted,
	// d changed at 24 (below b's 25), e created again at 31, f created at
	// 27 (below e's 31).
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "ns/c", Obj: cast("ns", "c", 8, castv1alpha1.PhaseRunning, 10)})
	h.OnUpdate(nil, cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0))
	h.OnUpdate(nil, cast("ns", "b", 25, castv1alpha1.PhaseSucceeded, 100))
	h.OnAdd(cast("ns", "d", 24, castv1alpha1.PhaseRunning, 0), false)
	h.OnAdd(cast("ns", "e", 31, castv1alpha1.PhaseRunning, 0), false)
	h.OnAdd(cast("ns", "f", 27, castv1alpha1.PhaseRunning, 0), false)
	if h.Rebases() != 0 {
		t.Fatalf("%d rebases in one history", h.Rebases())
	}
}

func TestResumeFromAheadOfTheHubIsFull(t *testing.T) {
	// Another replica, further ahead, or a history this replica never saw.
	h := newHub()
	h.OnAdd(cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("6")
	if _, init := h.Subscribe(Filter{}, "7"); init.Resumed {
		t.Error("resumed from an id this hub never handed out")
	}
	if _, init := h.Subscribe(Filter{}, "6"); !init.Resumed {
		t.Error("a resume from the sync point must be exact")
	}
}

func TestResumeAfterARelistsOutOfOrderChangeMissesNothing(t *testing.T) {
	// A relist hands changed Casts over in key order: b's change at 25
	// reaches streams before d's at 24. A client whose stream ended after
	// b@25 and before d@24 resumes from 25; d's change must reach it.
	h := newHub()
	h.SetSource((&store{}).source, nil)
	h.OnAdd(cast("ns", "b", 5, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("ns", "d", 6, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("7")
	h.OnUpdate(nil, cast("ns", "b", 25, castv1alpha1.PhaseSucceeded, 100))
	h.OnUpdate(nil, cast("ns", "d", 24, castv1alpha1.PhaseFailed, 0))
	_, init := h.Subscribe(Filter{Namespace: "ns"}, "25")
	var got []string
	for _, u := range init.Updates {
		got = append(got, u.Key.Name+"@"+u.ID)
	}
	if !slices.Contains(got, "d@24") {
		t.Errorf("resume from 25 sent %v (resumed %v): d's change at 24 is lost", got, init.Resumed)
	}
	// An id handed out after the relist is exact again.
	h.OnUpdate(nil, cast("ns", "b", 26, castv1alpha1.PhaseSucceeded, 100))
	if _, init := h.Subscribe(Filter{Namespace: "ns"}, "26"); !init.Resumed {
		t.Error("a resume from an id after the relist must be exact")
	}
}
