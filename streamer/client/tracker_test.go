package client

import (
	"slices"
	"strconv"
	"testing"

	"github.com/spell-platform/cast-operator/streamer/wire"
)

func ev(kind wire.Kind, name string, rv int) Event {
	id := strconv.Itoa(rv)
	return Event{Type: kind, ID: id, Cast: wire.Snapshot{Namespace: "ns", Name: name, ResourceVersion: id}}
}

func offerAll(t *testing.T, tr *tracker, want []bool, evs ...Event) {
	t.Helper()
	for i, e := range evs {
		if got := tr.offer(e); got != want[i] {
			t.Errorf("offer(%s %s rv %s) = %v, want %v", e.Type, e.Cast.Name, e.ID, got, want[i])
		}
	}
}

func TestTrackerNeverGoesBack(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", false)
	offerAll(t, tr, []bool{true, true, false, false, true, false},
		ev(wire.KindStatus, "a", 5),
		ev(wire.KindProgress, "a", 7),
		ev(wire.KindStatus, "a", 6),   // older than what was delivered
		ev(wire.KindStatus, "a", 7),   // a duplicate from a resume
		ev(wire.KindComplete, "a", 7), // the same state, now known final
		ev(wire.KindComplete, "a", 7), // and only once
	)
}

func TestTrackerDeletions(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", false)
	offerAll(t, tr, []bool{true, true, false, false, true, true},
		ev(wire.KindStatus, "a", 5),
		ev(wire.KindDeleted, "a", 8),
		ev(wire.KindStatus, "a", 6),  // a state from before the deletion
		ev(wire.KindDeleted, "a", 9), // told already
		ev(wire.KindStatus, "a", 12), // created again
		ev(wire.KindDeleted, "b", 3), // never seen: still worth telling
	)
}

func TestTrackerFullSnapshotReportsGhosts(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6), ev(wire.KindStatus, "c", 7))
	if got := tr.synced("7", tr.ghostCandidates(), false); len(got) != 0 {
		t.Fatalf("a first snapshot has no ghosts, got %v", got)
	}

	// Reconnect from 10; the server answers with a full snapshot (a is
	// resent though it did not change after 10) without b and c.
	tr.begin("10", true)
	offerAll(t, tr, []bool{false, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "d", 11))
	if tr.needsCheck() {
		t.Fatal("a state at or below Last-Event-ID proves a full snapshot")
	}
	ghosts := tr.ghostCandidates()
	slices.Sort(ghosts)
	if !slices.Equal(ghosts, []string{"ns/b", "ns/c"}) {
		t.Fatalf("ghosts = %v, want ns/b and ns/c", ghosts)
	}
	got := tr.synced("12", ghosts, false)
	if len(got) != 2 {
		t.Fatalf("want 2 synthetic deletions, got %v", got)
	}
	for _, e := range got {
		if e.Type != wire.KindDeleted || e.ID != "12" || e.Cast.ResourceVersion != "12" {
			t.Errorf("synthetic deletion %+v: want type deleted at the synced id", e)
		}
	}
	// A late real deletion of b is not news; a stale state of c is not either.
	offerAll(t, tr, []bool{false, false}, ev(wire.KindDeleted, "b", 13), ev(wire.KindStatus, "c", 7))
}

func TestTrackerExactResumeHasNoGhosts(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6), ev(wire.KindStatus, "c", 7))
	tr.synced("7", nil, false)

	tr.begin("7", true)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 9), ev(wire.KindDeleted, "b", 10))
	if c := tr.ghostCandidates(); c != nil {
		t.Fatalf("a deletion proves an exact resume: c did not change, got ghosts %v", c)
	}
}

func TestTrackerAmbiguousBatchNeedsCheck(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6))
	tr.synced("6", nil, false)

	// Only a newer a: either b did not change (exact) or it is gone (full).
	tr.begin("6", true)
	offerAll(t, tr, []bool{true}, ev(wire.KindStatus, "a", 8))
	if !tr.needsCheck() || !slices.Equal(tr.ghostCandidates(), []string{"ns/b"}) {
		t.Fatalf("needsCheck=%v candidates=%v: want a check of ns/b", tr.needsCheck(), tr.ghostCandidates())
	}
	if got := tr.synced("8", nil, false); len(got) != 0 {
		t.Fatalf("the check found b: no deletion, got %v", got)
	}
}

// An etcd restore: the consumer saw a and b go on to newer states and c
// get created; the restored streamer answers the resume with a full
// snapshot of the older states. The snapshot wins, c is gone, and the new
// history's changes, numbered below what the consumer saw, are news.
func TestTrackerFullSnapshotWinsOverNewerStates(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6))
	tr.synced("7", tr.ghostCandidates(), true)
	offerAll(t, tr, []bool{true, true, true, true},
		ev(wire.KindComplete, "a", 10), ev(wire.KindStatus, "c", 11), ev(wire.KindDeleted, "b", 12), ev(wire.KindStatus, "d", 13))
	tr.begin("13", true)
	tr.forget("ns/d", 14, false) // deleted later on, and told

	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6))
	ghosts := tr.ghostCandidates()
	if !slices.Equal(ghosts, []string{"ns/c"}) || tr.needsCheck() {
		t.Fatalf("ghosts %v needsCheck %v: want c, known for sure", ghosts, tr.needsCheck())
	}
	got := tr.synced("8", ghosts, true)
	if len(got) != 1 || got[0].Type != wire.KindDeleted || got[0].ID != "8" {
		t.Fatalf("synthetic deletions %v: want c deleted at the synced id 8", got)
	}
	offerAll(t, tr, []bool{true, true, true, false, false},
		ev(wire.KindStatus, "a", 9),   // the new history, below the 10 of the lost one
		ev(wire.KindStatus, "c", 9),   // c created again
		ev(wire.KindStatus, "d", 10),  // so was d, deleted at 14 in the lost history
		ev(wire.KindStatus, "b", 6),   // a duplicate
		ev(wire.KindProgress, "a", 9), // and a state not newer than the last
	)
}

func TestTrackerOlderStateOutsideAFullAnswerIsDropped(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 9))
	tr.synced("9", nil, true)
	// Live changes, and an exact resume (a deletion proves it), never
	// turn a state back.
	offerAll(t, tr, []bool{false}, ev(wire.KindStatus, "b", 8))
	tr.begin("9", true)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindDeleted, "x", 10), ev(wire.KindStatus, "b", 11))
	tr.synced("11", tr.ghostCandidates(), false)
	offerAll(t, tr, []bool{false, false}, ev(wire.KindStatus, "a", 4), ev(wire.KindStatus, "b", 10))
}

func TestTrackerSingleCastTakesTheRestoredState(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", false)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindComplete, "a", 10))
	// Reconnected: the first event at or below the id sent is the whole
	// state of the Cast, from a streamer whose history went back.
	tr.begin("10", false)
	offerAll(t, tr, []bool{true, false, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "a", 4), ev(wire.KindComplete, "a", 7))
}

// A consumer that asked for some event types gets synthetic deletions
// only when it asked for deletions, and a filtered snapshot's silence
// about a Cast is never taken as its deletion without the list's word.
func TestTrackerFilteredGhosts(t *testing.T) {
	outcomes := newTracker(wire.KindsOf(wire.KindComplete, wire.KindDeleted))
	outcomes.begin("", true)
	offerAll(t, outcomes, []bool{true, true}, ev(wire.KindComplete, "a", 5), ev(wire.KindComplete, "b", 6))
	outcomes.synced("6", outcomes.ghostCandidates(), true)
	// A full snapshot without a: a may be running again (a status, not
	// sent) or gone; only the list can tell.
	outcomes.begin("", true)
	offerAll(t, outcomes, []bool{false}, ev(wire.KindComplete, "b", 6))
	if !outcomes.needsCheck() {
		t.Error("a snapshot of outcomes only does not prove an unmentioned Cast gone")
	}
	if got := outcomes.ghostCandidates(); !slices.Equal(got, []string{"ns/a"}) {
		t.Errorf("ghost candidates = %v, want ns/a", got)
	}

	noDeletions := newTracker(wire.KindsOf(wire.KindStatus, wire.KindComplete))
	noDeletions.begin("", true)
	offerAll(t, noDeletions, []bool{true}, ev(wire.KindStatus, "a", 5))
	noDeletions.synced("5", nil, true)
	noDeletions.begin("", true)
	if got := noDeletions.ghostCandidates(); got != nil {
		t.Errorf("ghost candidates without deletions asked for = %v, want none", got)
	}
	if got, ok := noDeletions.gone("ns", "a", "9"); ok {
		t.Errorf("gone without deletions asked for = %+v", got)
	}

	everything := newTracker(wire.AllKinds)
	everything.begin("", true)
	if everything.needsCheck() {
		t.Error("a full snapshot of every type holds every Cast")
	}
}

// A single Cast found gone is reported with the last state delivered, or
// with its name alone when no state of it was asked for.
func TestTrackerGone(t *testing.T) {
	tr := newTracker(wire.AllKinds)
	tr.begin("", false)
	offerAll(t, tr, []bool{true}, ev(wire.KindProgress, "a", 5))
	got, ok := tr.gone("ns", "a", "7")
	if !ok || got.Type != wire.KindDeleted || got.Cast.Name != "a" || got.ID != "5" {
		t.Errorf("gone = %+v, %v; want a's last state as deleted at 5", got, ok)
	}
	if _, ok := tr.gone("ns", "a", "7"); ok {
		t.Error("told twice")
	}

	deletions := newTracker(wire.KindsOf(wire.KindDeleted))
	deletions.begin("12", false)
	got, ok = deletions.gone("ns", "b", "12")
	if !ok || got.Type != wire.KindDeleted || got.Cast.CastID != "ns/b" || got.Cast.Namespace != "ns" || got.ID != "12" {
		t.Errorf("gone of a Cast never delivered = %+v, %v; want ns/b deleted at 12", got, ok)
	}
	if _, ok := deletions.gone("ns", "b", "12"); ok {
		t.Error("told twice")
	}
}
