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
	tr := newTracker()
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
	tr := newTracker()
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
	tr := newTracker()
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6), ev(wire.KindStatus, "c", 7))
	if got := tr.synced("7", tr.ghostCandidates()); len(got) != 0 {
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
	got := tr.synced("12", ghosts)
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
	tr := newTracker()
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6), ev(wire.KindStatus, "c", 7))
	tr.synced("7", nil)

	tr.begin("7", true)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 9), ev(wire.KindDeleted, "b", 10))
	if c := tr.ghostCandidates(); c != nil {
		t.Fatalf("a deletion proves an exact resume: c did not change, got ghosts %v", c)
	}
}

func TestTrackerAmbiguousBatchNeedsCheck(t *testing.T) {
	tr := newTracker()
	tr.begin("", true)
	offerAll(t, tr, []bool{true, true}, ev(wire.KindStatus, "a", 5), ev(wire.KindStatus, "b", 6))
	tr.synced("6", nil)

	// Only a newer a: either b did not change (exact) or it is gone (full).
	tr.begin("6", true)
	offerAll(t, tr, []bool{true}, ev(wire.KindStatus, "a", 8))
	if !tr.needsCheck() || !slices.Equal(tr.ghostCandidates(), []string{"ns/b"}) {
		t.Fatalf("needsCheck=%v candidates=%v: want a check of ns/b", tr.needsCheck(), tr.ghostCandidates())
	}
	if got := tr.synced("8", nil); len(got) != 0 {
		t.Fatalf("the check found b: no deletion, got %v", got)
	}
}
