package hub

import (
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// castWithStep is a running Cast whose one job's second step has the
// given status.
func castWithStep(rv int64, stepStatus string) *castv1alpha1.Cast {
	c := cast("ns", "a", rv, castv1alpha1.PhaseRunning, 40)
	c.Status = withJobs(c.Status, "in_progress", stepStatus)
	return c
}

// A step moving on is news for streams: a progress event whose data
// carries the job and its steps as they now stand.
func TestStepChangeIsAProgressEventCarryingTheStep(t *testing.T) {
	h := newHub()
	h.OnAdd(castWithStep(1, "queued"), true)
	h.MarkSynced("1")
	sub, _ := h.Subscribe(Filter{Namespace: "ns"}, "")
	started := castWithStep(2, "in_progress")
	at := metav1.NewTime(t0)
	started.Status.Jobs[0].Steps[1].StartedAt = &at
	h.OnUpdate(nil, started)
	got := sub.Drain()
	equal(t, kinds(got), []string{"progress a@2"})
	var snap wire.Snapshot
	if err := json.Unmarshal(got[0].Data, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Jobs) != 1 || len(snap.Jobs[0].Steps) != 2 {
		t.Fatalf("jobs in the event: %+v", snap.Jobs)
	}
	step := snap.Jobs[0].Steps[1]
	if step.Name != "Run tests" || step.Status != "in_progress" || step.StartedAt == nil || !step.StartedAt.Equal(t0) {
		t.Errorf("step in the event = %+v, want Run tests in_progress since %s", step, t0)
	}
	// The same jobs again (a metadata-only update) are no news.
	same := started.DeepCopy()
	same.ResourceVersion = "3"
	h.OnUpdate(nil, same)
	equal(t, kinds(sub.Drain()), nil)
}

// A stream that asks for some event types is queued only those: the
// others neither wake it nor take a place in its queue.
func TestSubscriberGetsOnlyTheKindsItAskedFor(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "a", 1, castv1alpha1.PhaseQueued, 0), true)
	h.MarkSynced("1")
	outcomes, _ := h.Subscribe(Filter{Namespace: "ns", Kinds: wire.KindsOf(wire.KindComplete, wire.KindDeleted)}, "")
	ticks, _ := h.Subscribe(Filter{Namespace: "ns", Name: "a", Kinds: wire.KindsOf(wire.KindProgress)}, "")
	everything, _ := h.Subscribe(Filter{}, "")

	h.OnUpdate(nil, cast("ns", "a", 2, castv1alpha1.PhaseRunning, 0))
	h.OnUpdate(nil, cast("ns", "a", 3, castv1alpha1.PhaseRunning, 30))
	select {
	case <-outcomes.Ready():
		t.Fatal("a status and a progress change woke a stream that asked for outcomes only")
	default:
	}
	equal(t, kinds(outcomes.Drain()), nil)
	equal(t, kinds(ticks.Drain()), []string{"progress a@3"})

	h.OnUpdate(nil, cast("ns", "a", 4, castv1alpha1.PhaseFailed, 30))
	h.OnDelete(cast("ns", "a", 5, castv1alpha1.PhaseFailed, 30))
	equal(t, kinds(outcomes.Drain()), []string{"deleted a@5"})
	equal(t, kinds(ticks.Drain()), nil)
	equal(t, kinds(everything.Drain()), []string{"deleted a@5"})
	if p := h.Position(); p != 5 {
		t.Errorf("Position = %d, want 5", p)
	}
}

// Coalescing a stream's pending update never turns it into a type the
// stream did not ask for: a finished attempt's "complete" followed by
// the re-run's first progress is the progress, not a "status".
func TestCoalescingKeepsToTheAskedKinds(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "a", 1, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("1")
	sub, _ := h.Subscribe(Filter{Kinds: wire.KindsOf(wire.KindComplete, wire.KindProgress)}, "")
	h.OnUpdate(nil, cast("ns", "a", 2, castv1alpha1.PhaseSucceeded, 100))
	rerun := cast("ns", "a", 3, castv1alpha1.PhaseRunning, 0)
	rerun.Status.RunAttempt = 2
	h.OnUpdate(nil, rerun) // status: not queued
	progressed := cast("ns", "a", 4, castv1alpha1.PhaseRunning, 10)
	progressed.Status.RunAttempt = 2
	h.OnUpdate(nil, progressed)
	equal(t, kinds(sub.Drain()), []string{"progress a@4"})
}

// A snapshot and a resume send each state as status or complete, and
// deletions as deleted, each only when the stream asked for that type.
func TestSnapshotAndResumeKeepToTheAskedKinds(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "running", 1, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("ns", "done", 2, castv1alpha1.PhaseSucceeded, 100), true)
	h.OnAdd(cast("ns", "doomed", 3, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("3")
	h.OnUpdate(nil, cast("ns", "running", 4, castv1alpha1.PhaseRunning, 50))
	h.OnUpdate(nil, cast("ns", "done", 5, castv1alpha1.PhaseFailed, 100))
	h.OnDelete(cast("ns", "doomed", 6, castv1alpha1.PhaseRunning, 0))

	for _, tt := range []struct {
		kinds        wire.KindSet
		full, resume []string
	}{
		{0, []string{"status running@4", "complete done@5"}, []string{"status running@4", "complete done@5", "deleted doomed@6"}},
		{wire.KindsOf(wire.KindComplete, wire.KindDeleted), []string{"complete done@5"}, []string{"complete done@5", "deleted doomed@6"}},
		{wire.KindsOf(wire.KindStatus), []string{"status running@4"}, []string{"status running@4"}},
		{wire.KindsOf(wire.KindDeleted), nil, []string{"deleted doomed@6"}},
		{wire.KindsOf(wire.KindProgress), nil, nil},
	} {
		t.Run(tt.kinds.String(), func(t *testing.T) {
			_, init := h.Subscribe(Filter{Namespace: "ns", Kinds: tt.kinds}, "")
			equal(t, kinds(init.Updates), tt.full)
			_, init = h.Subscribe(Filter{Namespace: "ns", Kinds: tt.kinds}, "3")
			if !init.Resumed || init.SyncedID != "6" {
				t.Fatalf("resume from 3: resumed %v, synced id %s", init.Resumed, init.SyncedID)
			}
			equal(t, kinds(init.Updates), tt.resume)
		})
	}
}
