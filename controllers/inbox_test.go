package controllers

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

func TestInboxWakesOncePerCastUntilTaken(t *testing.T) {
	b := NewInbox()
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	run := func(status string) runstatus.Observation {
		return runstatus.Observation{Run: &runstatus.Run{ID: 1, Status: status}}
	}
	b.Deliver(a, run("queued"))
	b.Deliver(a, run("in_progress"))
	if got := len(b.Source()); got != 1 {
		t.Fatalf("%d wake-ups queued for one cast, want 1", got)
	}
	ev := <-b.Source()
	if ev.Object.GetName() != "a" || ev.Object.GetNamespace() != "ns" {
		t.Errorf("wake-up for %s/%s, want ns/a", ev.Object.GetNamespace(), ev.Object.GetName())
	}
	runs, _ := b.Take(a)
	if len(runs) != 2 || runs[0].Status != "queued" || runs[1].Status != "in_progress" {
		t.Fatalf("Take = %+v, want both runs in delivery order", runs)
	}
	b.Deliver(a, run("completed"))
	if got := len(b.Source()); got != 1 {
		t.Fatalf("after Take, a new delivery must wake the cast again; %d wake-ups", got)
	}
	b.Return(a, runs)
	runs, _ = b.Take(a)
	if len(runs) != 3 || runs[0].Status != "queued" || runs[2].Status != "completed" {
		t.Errorf("returned runs must come first: %+v", runs)
	}
}

func TestInboxKeepsNewestJobSnapshot(t *testing.T) {
	b := NewInbox()
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	done := runstatus.Job{ID: 9, Attempt: 1, Status: "completed"}
	b.Deliver(a, runstatus.Observation{Job: &done})
	stale := runstatus.Job{ID: 9, Attempt: 1, Status: "in_progress"}
	b.Deliver(a, runstatus.Observation{Job: &stale})
	_, jobs := b.Take(a)
	if len(jobs) != 1 || jobs[0].Status != "completed" {
		t.Errorf("jobs = %+v, want the completed snapshot only", jobs)
	}
	b.Forget(a)
	if _, jobs := b.Take(a); len(jobs) != 0 {
		t.Errorf("Forget kept %d jobs", len(jobs))
	}
}

func TestInboxNeverBlocksDelivery(t *testing.T) {
	b := NewInbox()
	for i := range inboxBuffer + 10 {
		b.Deliver(types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("c%d", i)},
			runstatus.Observation{Run: &runstatus.Run{ID: int64(i)}})
	}
	if got := len(b.Source()); got != inboxBuffer {
		t.Errorf("%d wake-ups buffered, want the buffer full at %d", got, inboxBuffer)
	}
	// A dropped wake-up keeps the observation for the next reconcile.
	last := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("c%d", inboxBuffer+9)}
	if runs, _ := b.Take(last); len(runs) != 1 {
		t.Errorf("the observation behind a dropped wake-up was lost")
	}
}

func TestInboxJobsLeavesQueuedRunsForTheNextReconcile(t *testing.T) {
	b := NewInbox()
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	b.Deliver(a, runstatus.Observation{Run: &runstatus.Run{ID: 1, Status: "completed", Conclusion: "cancelled"}})
	b.ReplaceJobs(a, []runstatus.Job{{ID: 5, Status: "completed"}})
	if jobs := b.Jobs(a); len(jobs) != 1 {
		t.Fatalf("Jobs = %+v, want the replaced job", jobs)
	}
	// A run delivered while a resync was talking to GitHub must survive it.
	if runs, _ := b.Take(a); len(runs) != 1 || runs[0].Conclusion != "cancelled" {
		t.Fatalf("the completed run was lost: %+v", runs)
	}
}

// A standby replica never takes what it is sent: the runs held for a Cast
// stay bounded, and applying what is left gives the status applying every
// delivery would.
func TestInboxBoundsQueuedRunsWithoutChangingTheOutcome(t *testing.T) {
	b := NewInbox()
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var sent []runstatus.Run
	for i := range 400 {
		r := runstatus.Run{ID: 7, Attempt: 1, Status: "in_progress", UpdatedAt: start.Add(time.Duration(i) * time.Second)}
		switch {
		case i == 150:
			r.Status, r.Conclusion = "completed", "failure"
		case i > 250: // a re-run
			r.Attempt = 2
		}
		sent = append(sent, r)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(sent), func(i, j int) { sent[i], sent[j] = sent[j], sent[i] })
	for i := range sent {
		b.Deliver(a, runstatus.Observation{Run: &sent[i]})
	}
	kept, _ := b.Take(a)
	if len(kept) > maxQueuedRuns {
		t.Fatalf("%d runs held for one cast, want at most %d", len(kept), maxQueuedRuns)
	}
	apply := func(runs []runstatus.Run) castv1alpha1.CastStatus {
		var st castv1alpha1.CastStatus
		for _, r := range runs {
			runstatus.ApplyRun(&st, r, start)
		}
		// When a condition turned is when its first snapshot was applied,
		// which the dropped early snapshots can move; the state may not.
		for i := range st.Conditions {
			st.Conditions[i].LastTransitionTime = metav1.Time{}
		}
		return st
	}
	if got, want := apply(kept), apply(sent); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("status from the %d runs kept:\n%+v\nfrom all %d sent:\n%+v", len(kept), got, len(sent), want)
	}
}
