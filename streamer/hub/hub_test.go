package hub

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func cast(ns, name string, rv int64, phase castv1alpha1.CastPhase, progress int32) *castv1alpha1.Cast {
	return &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: strconv.FormatInt(rv, 10),
			Labels: map[string]string{"team": ns}},
		Spec:   castv1alpha1.CastSpec{Repository: "o/r", Workflow: "cast.yml"},
		Status: castv1alpha1.CastStatus{Phase: phase, Progress: progress},
	}
}

func newHub() *Hub { return New(3, func() time.Time { return t0 }) }

func kinds(us []*Update) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = string(u.Kind) + " " + u.Key.Name + "@" + u.ID
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	running := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, Progress: 10, Message: "a"}
	tests := []struct {
		name     string
		old, new castv1alpha1.CastStatus
		first    bool
		want     wire.Kind
		changed  bool
	}{
		{"first sight", castv1alpha1.CastStatus{}, running, true, wire.KindStatus, true},
		{"first sight of a finished cast", castv1alpha1.CastStatus{}, castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseFailed}, true, wire.KindComplete, true},
		{"nothing changed", running, running, false, "", false},
		{"progress only", running, castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, Progress: 20, Message: "b"}, false, wire.KindProgress, true},
		{"phase", running, castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseQueued}, false, wire.KindStatus, true},
		{"finished", running, castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseSucceeded, Progress: 100}, false, wire.KindComplete, true},
		{"after finishing, cost arrives", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseSucceeded},
			castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseSucceeded, CostCents: 3}, false, wire.KindStatus, true},
		{"a step starts", withJobs(running, "in_progress", "in_progress"), withJobs(running, "in_progress", "completed"),
			false, wire.KindProgress, true},
		{"the first job appears", running, withJobs(running, "queued", ""), false, wire.KindProgress, true},
		{"jobs past the bound", withJobs(running, "queued", ""), func() castv1alpha1.CastStatus {
			st := withJobs(running, "queued", "")
			st.JobsOmitted = 3
			return st
		}(), false, wire.KindProgress, true},
		{"steps, progress and message together", withJobs(running, "in_progress", "queued"), func() castv1alpha1.CastStatus {
			st := withJobs(running, "in_progress", "in_progress")
			st.Progress, st.Message = 50, "Run tests"
			return st
		}(), false, wire.KindProgress, true},
		{"a step and a new attempt", withJobs(running, "in_progress", "queued"), func() castv1alpha1.CastStatus {
			st := withJobs(running, "in_progress", "in_progress")
			st.RunAttempt = 2
			return st
		}(), false, wire.KindStatus, true},
		{"the last step finishes the run", withJobs(running, "in_progress", "in_progress"), func() castv1alpha1.CastStatus {
			st := withJobs(running, "completed", "completed")
			st.Phase = castv1alpha1.PhaseSucceeded
			return st
		}(), false, wire.KindComplete, true},
		{"a job's conclusion after the run finished", withJobs(castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseFailed}, "in_progress", "completed"),
			withJobs(castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseFailed}, "completed", "completed"), false, wire.KindProgress, true},
		{"the same jobs again", withJobs(running, "completed", "completed"), withJobs(running, "completed", "completed"), false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := &tt.old
			if tt.first {
				old = nil
			}
			kind, changed := Classify(old, &tt.new)
			if kind != tt.want || changed != tt.changed {
				t.Errorf("Classify = %q, %v; want %q, %v", kind, changed, tt.want, tt.changed)
			}
		})
	}
}

// withJobs is st with one job, of the given status, whose second step has
// stepStatus (no second step when empty).
func withJobs(st castv1alpha1.CastStatus, jobStatus, stepStatus string) castv1alpha1.CastStatus {
	job := castv1alpha1.JobStatus{ID: 1, Name: "build", Status: jobStatus,
		Steps: []castv1alpha1.StepStatus{{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success"}}}
	if stepStatus != "" {
		job.Steps = append(job.Steps, castv1alpha1.StepStatus{Number: 2, Name: "Run tests", Status: stepStatus})
	}
	st.Jobs = []castv1alpha1.JobStatus{job}
	return st
}

func TestSubscriberKeepsLatestPerCastInVersionOrder(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "a", 1, castv1alpha1.PhaseQueued, 0), true)
	h.OnAdd(cast("ns", "b", 2, castv1alpha1.PhaseQueued, 0), true)
	h.MarkSynced("2")
	sub, init := h.Subscribe(Filter{Namespace: "ns"}, "")
	equal(t, kinds(init.Updates), []string{"status a@1", "status b@2"})
	if init.SyncedID != "2" || init.Resumed {
		t.Errorf("synced id %q resumed %v", init.SyncedID, init.Resumed)
	}

	h.OnUpdate(nil, cast("ns", "a", 3, castv1alpha1.PhaseRunning, 0))
	h.OnUpdate(nil, cast("ns", "b", 4, castv1alpha1.PhaseRunning, 10))
	h.OnUpdate(nil, cast("ns", "a", 5, castv1alpha1.PhaseRunning, 50)) // progress only, coalesced with a@3
	h.OnUpdate(nil, cast("ns", "a", 5, castv1alpha1.PhaseRunning, 50)) // a resync: no change
	select {
	case <-sub.Ready():
	default:
		t.Fatal("no notification")
	}
	equal(t, kinds(sub.Drain()), []string{"status b@4", "status a@5"})

	h.OnUpdate(nil, cast("ns", "a", 6, castv1alpha1.PhaseRunning, 60))
	equal(t, kinds(sub.Drain()), []string{"progress a@6"})

	h.OnUpdate(nil, cast("ns", "a", 7, castv1alpha1.PhaseSucceeded, 100))
	h.OnUpdate(nil, cast("ns", "a", 8, castv1alpha1.PhaseSucceeded, 100)) // same status again
	equal(t, kinds(sub.Drain()), []string{"complete a@7"})
}

func TestCoalescing(t *testing.T) {
	tests := []struct {
		name string
		old  wire.Kind
		new  wire.Kind
		term bool
		want wire.Kind
	}{
		{"status then progress stays status", wire.KindStatus, wire.KindProgress, false, wire.KindStatus},
		{"complete then cost update stays complete", wire.KindComplete, wire.KindStatus, true, wire.KindComplete},
		{"complete then a re-run is a status change", wire.KindComplete, wire.KindStatus, false, wire.KindStatus},
		{"deleted wins", wire.KindStatus, wire.KindDeleted, false, wire.KindDeleted},
		{"recreated after a deletion", wire.KindDeleted, wire.KindStatus, false, wire.KindStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := coalesce(&Update{Kind: tt.old}, &Update{Kind: tt.new, terminal: tt.term})
			if got != tt.want {
				t.Errorf("coalesce(%s, %s) = %s, want %s", tt.old, tt.new, got, tt.want)
			}
		})
	}
}

func TestResume(t *testing.T) {
	h := newHub()
	for i, name := range []string{"a", "b", "c"} {
		h.OnAdd(cast("ns", name, int64(i+1), castv1alpha1.PhaseRunning, 0), true)
	}
	h.OnAdd(cast("other", "x", 4, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("4")
	h.OnUpdate(nil, cast("ns", "b", 10, castv1alpha1.PhaseSucceeded, 100))
	h.OnDelete(cast("ns", "c", 11, castv1alpha1.PhaseRunning, 0))
	h.OnDelete(cast("other", "x", 12, castv1alpha1.PhaseRunning, 0))

	_, init := h.Subscribe(Filter{Namespace: "ns"}, "4")
	if !init.Resumed {
		t.Fatal("a resume from the sync point must be exact")
	}
	equal(t, kinds(init.Updates), []string{"complete b@10", "deleted c@11"})
	if init.SyncedID != "12" {
		t.Errorf("synced id = %s, want 12", init.SyncedID)
	}
	var snap wire.Snapshot
	if err := json.Unmarshal(init.Updates[1].Data, &snap); err != nil || snap.CastID != "ns/c" || snap.ResourceVersion != "11" {
		t.Errorf("deleted event data = %s (%v)", init.Updates[1].Data, err)
	}

	_, init = h.Subscribe(Filter{Namespace: "ns"}, "10")
	equal(t, kinds(init.Updates), []string{"deleted c@11"})

	for _, id := range []string{"", "garbage", "3"} {
		_, init = h.Subscribe(Filter{Namespace: "ns"}, id)
		if init.Resumed {
			t.Errorf("Last-Event-ID %q: resumed, want a full snapshot", id)
		}
		equal(t, kinds(init.Updates), []string{"status a@1", "complete b@10"})
	}
}

func TestTombstoneMemoryIsBounded(t *testing.T) {
	h := newHub() // remembers 3 deletions
	for i := range 6 {
		h.OnAdd(cast("ns", strconv.Itoa(i), int64(i+1), castv1alpha1.PhaseRunning, 0), true)
	}
	h.MarkSynced("6")
	for i := range 5 {
		h.OnDelete(cast("ns", strconv.Itoa(i), int64(10+i), castv1alpha1.PhaseRunning, 0))
	}
	if len(h.tombstones) != 3 {
		t.Fatalf("%d tombstones kept, want 3", len(h.tombstones))
	}
	// Deletions 10 and 11 are forgotten: resuming from before them cannot
	// be exact, from after them it can.
	if _, init := h.Subscribe(Filter{}, "10"); init.Resumed {
		t.Error("resumed from 10 although the deletion at 11 is forgotten")
	}
	_, init := h.Subscribe(Filter{}, "11")
	if !init.Resumed {
		t.Fatal("resume from 11 should be exact")
	}
	equal(t, kinds(init.Updates), []string{"deleted 2@12", "deleted 3@13", "deleted 4@14"})
}

func TestDeletionMissedByTheWatchForcesFullSnapshots(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("ns", "b", 6, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("6")
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "ns/a", Obj: cast("ns", "a", 5, castv1alpha1.PhaseRunning, 0)})
	if _, init := h.Subscribe(Filter{}, "6"); init.Resumed {
		t.Error("a resume must not be exact after a deletion of unknown time")
	}
}

func TestFilterAndJSONEndpoints(t *testing.T) {
	h := newHub()
	h.OnAdd(cast("ns", "a", 1, castv1alpha1.PhaseRunning, 0), true)
	h.OnAdd(cast("other", "b", 2, castv1alpha1.PhaseRunning, 0), true)
	h.MarkSynced("2")
	sel, _ := labels.Parse("team=other")
	if got := len(h.List(Filter{Selector: sel})); got != 1 {
		t.Errorf("label selector matched %d casts, want 1", got)
	}
	if got := len(h.List(Filter{})); got != 2 {
		t.Errorf("all namespaces listed %d casts, want 2", got)
	}
	data, ok := h.Get(types.NamespacedName{Namespace: "ns", Name: "a"})
	var snap wire.Snapshot
	if !ok || json.Unmarshal(data, &snap) != nil || snap.Status != castv1alpha1.PhaseRunning || snap.CastID != "ns/a" {
		t.Errorf("Get = %s, %v", data, ok)
	}
	sub, _ := h.Subscribe(Filter{Namespace: "ns", Name: "a"}, "")
	h.OnUpdate(nil, cast("other", "b", 3, castv1alpha1.PhaseFailed, 0))
	if len(sub.Drain()) != 0 {
		t.Error("a single-cast stream got another cast's update")
	}
	h.Unsubscribe(sub)
	select {
	case <-sub.Done():
	default:
		t.Error("Unsubscribe did not close the subscriber")
	}
}
