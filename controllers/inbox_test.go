package controllers

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/spell-platform/cast-operator/controllers/journal"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

func entry(cast types.NamespacedName, obs runstatus.Observation) journal.Entry {
	return journal.Entry{Namespace: cast.Namespace, Name: cast.Name, Repository: "spell-platform/spells", Observation: obs}
}

var (
	castOne = types.NamespacedName{Namespace: "team-a", Name: "one"}
	castTwo = types.NamespacedName{Namespace: "team-b", Name: "two"}
)

// A journal batch may be deleted only once every Cast it names holds its
// news: deleting it sooner would lose news a crash then never replays.
func TestBatchDeletedOnlyOnceEveryCastApplied(t *testing.T) {
	b := NewInbox()
	b.DeliverBatch("batch-1", []journal.Entry{
		entry(castOne, runstatus.Observation{Run: &runstatus.Run{ID: 1, Status: "in_progress"}}),
		entry(castTwo, runstatus.Observation{Job: &runstatus.Job{ID: 7, RunID: 2, Status: "completed"}}),
		entry(castOne, runstatus.Observation{Job: &runstatus.Job{ID: 8, RunID: 1, Status: "queued"}}),
	})
	one := b.Take(castOne, "")
	if len(one.Runs) != 1 || len(one.Jobs) != 1 {
		t.Fatalf("cast one took %d runs, %d jobs; want 1 and 1", len(one.Runs), len(one.Jobs))
	}
	b.Applied(one)
	if got := b.AppliedBatches(); len(got) != 0 {
		t.Fatalf("batch released while cast two still waits: %v", got)
	}
	two := b.Take(castTwo, "")
	// The write failed: the news goes back, the batch stays.
	b.Return(castTwo, two)
	if got := b.AppliedBatches(); len(got) != 0 {
		t.Fatalf("batch released after a failed write: %v", got)
	}
	again := b.Take(castTwo, "")
	if len(again.Jobs) != 1 {
		t.Fatalf("returned news lost: %+v", again)
	}
	b.Applied(again)
	if got := b.AppliedBatches(); !slices.Equal(got, []string{"batch-1"}) {
		t.Fatalf("applied batches %v, want [batch-1]", got)
	}
	// Applying twice never releases twice.
	b.Applied(again)
	if got := b.AppliedBatches(); len(got) != 0 {
		t.Fatalf("released again: %v", got)
	}
}

// The informer replays every object it holds: a batch already delivered
// must not be counted, or queued, twice.
func TestReplayedBatchIsIgnored(t *testing.T) {
	b := NewInbox()
	e := []journal.Entry{entry(castOne, runstatus.Observation{Run: &runstatus.Run{ID: 1, Status: "queued"}})}
	b.DeliverBatch("batch-1", e)
	b.DeliverBatch("batch-1", e)
	n := b.Take(castOne, "")
	if len(n.Runs) != 1 {
		t.Fatalf("took %d runs, want 1", len(n.Runs))
	}
	b.Applied(n)
	if got := b.AppliedBatches(); !slices.Equal(got, []string{"batch-1"}) {
		t.Fatalf("applied batches %v, want [batch-1]", got)
	}
	// Once deleted from the journal, the name may be forgotten.
	b.BatchDeleted("batch-1")
	if len(b.known) != 0 {
		t.Errorf("inbox still remembers %v", b.known)
	}
}

// A Cast deleted before its news was applied releases its batches.
func TestForgetReleasesBatches(t *testing.T) {
	b := NewInbox()
	b.DeliverBatch("batch-1", []journal.Entry{entry(castOne, runstatus.Observation{Run: &runstatus.Run{ID: 1}})})
	b.DeliverBatch("batch-2", []journal.Entry{entry(castOne, runstatus.Observation{Run: &runstatus.Run{ID: 1}})})
	b.Forget(castOne)
	got := b.AppliedBatches()
	slices.Sort(got)
	if !slices.Equal(got, []string{"batch-1", "batch-2"}) {
		t.Fatalf("applied batches %v, want both", got)
	}
}

// However much news arrives for a Cast, one wake-up is in flight, and the
// reconcile sees the newest snapshot of each job.
func TestOneWakeUpPerCast(t *testing.T) {
	b := NewInbox()
	for i := range 10 {
		b.DeliverBatch(string(rune('a'+i)), []journal.Entry{entry(castOne, runstatus.Observation{
			Job: &runstatus.Job{ID: 5, RunID: 1, Status: "in_progress", Steps: make([]runstatus.Step, i)}})})
	}
	if n := len(b.Source()); n != 1 {
		t.Fatalf("%d wake-ups queued, want 1", n)
	}
	n := b.Take(castOne, "")
	if len(n.Jobs) != 1 || len(n.Jobs[0].Steps) != 9 {
		t.Fatalf("jobs %+v, want the last snapshot of job 5", n.Jobs)
	}
	if len(n.batches) != 10 {
		t.Fatalf("%d batches, want 10", len(n.batches))
	}
}

// A job's older snapshot delivered after a newer one, before the Cast's
// reconcile took either, leaves the newer one for it.
func TestInboxKeepsTheNewerJobSnapshot(t *testing.T) {
	b := NewInbox()
	started := runstatus.Job{ID: 5, RunID: 1, Attempt: 1, Status: "in_progress",
		Steps: []runstatus.Step{{Number: 1, Status: "in_progress"}}}
	queued := runstatus.Job{ID: 5, RunID: 1, Attempt: 1, Status: "queued"}
	b.DeliverBatch("newer", []journal.Entry{entry(castOne, runstatus.Observation{Job: &started})})
	b.DeliverBatch("older", []journal.Entry{entry(castOne, runstatus.Observation{Job: &queued})})
	n := b.Take(castOne, "")
	if len(n.Jobs) != 1 || n.Jobs[0].Status != "in_progress" {
		t.Fatalf("jobs %+v, want job 5 in progress", n.Jobs)
	}
}

// News stored for a Cast never reaches another created later under its
// name: the reconciler takes only its own UID's, and the rest waits until
// the API server says whose it is.
func TestNewsKeepsToItsCast(t *testing.T) {
	b := NewInbox()
	old := entry(castOne, runstatus.Observation{Run: &runstatus.Run{ID: 1, Status: "completed"}})
	old.UID = "uid-old"
	b.DeliverBatch("batch-old", []journal.Entry{old})
	if n := b.Take(castOne, "uid-new"); len(n.Runs) != 0 {
		t.Fatalf("the new Cast took its predecessor's news: %+v", n)
	}
	if !b.HasOthers(castOne, "uid-new") {
		t.Fatal("the old Cast's news was dropped before anyone said it is gone")
	}
	b.ReleaseOthers(castOne, "uid-new")
	if got := b.AppliedBatches(); !slices.Equal(got, []string{"batch-old"}) {
		t.Fatalf("applied batches %v, want [batch-old]", got)
	}
	if b.Has(castOne) {
		t.Error("news left for castOne")
	}
}
