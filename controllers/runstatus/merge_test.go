package runstatus

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestPhaseOf(t *testing.T) {
	tests := []struct {
		status, conclusion string
		want               castv1alpha1.CastPhase
		wantMsg            string
	}{
		{"requested", "", castv1alpha1.PhaseQueued, "run requested"},
		{"queued", "", castv1alpha1.PhaseQueued, "run queued"},
		{"pending", "", castv1alpha1.PhaseQueued, "run pending"},
		{"waiting", "", castv1alpha1.PhaseQueued, "run waiting"},
		{"in_progress", "", castv1alpha1.PhaseRunning, "run in progress"},
		{"completed", "success", castv1alpha1.PhaseSucceeded, "run succeeded"},
		{"completed", "skipped", castv1alpha1.PhaseSucceeded, "run finished as skipped"},
		{"completed", "neutral", castv1alpha1.PhaseSucceeded, "run finished as neutral"},
		{"completed", "cancelled", castv1alpha1.PhaseCancelled, "run cancelled"},
		{"completed", "timed_out", castv1alpha1.PhaseTimedOut, "run timed out on GitHub"},
		{"completed", "failure", castv1alpha1.PhaseFailed, "run finished as failure"},
		{"completed", "startup_failure", castv1alpha1.PhaseFailed, "run finished as startup_failure"},
		{"completed", "action_required", castv1alpha1.PhaseFailed, "run finished as action_required"},
		{"completed", "stale", castv1alpha1.PhaseFailed, "run finished as stale"},
		{"completed", "exploded", castv1alpha1.PhaseFailed, `unknown run conclusion "exploded"`},
		{"completed", "", castv1alpha1.PhaseFailed, `unknown run conclusion ""`},
		{"teleporting", "", castv1alpha1.PhaseFailed, `unknown run status "teleporting"`},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.conclusion, func(t *testing.T) {
			got, msg := PhaseOf(tt.status, tt.conclusion)
			if got != tt.want || msg != tt.wantMsg {
				t.Errorf("PhaseOf(%q, %q) = %q, %q; want %q, %q", tt.status, tt.conclusion, got, msg, tt.want, tt.wantMsg)
			}
		})
	}
}

func run(attempt int64, status, conclusion string, updated time.Time) Run {
	return Run{ID: 42, Attempt: attempt, Status: status, Conclusion: conclusion,
		HTMLURL: "https://github.com/o/r/actions/runs/42", StartedAt: t0, UpdatedAt: updated}
}

// permutations returns every order of runs.
func permutations(runs []Run) [][]Run {
	if len(runs) <= 1 {
		return [][]Run{runs}
	}
	var out [][]Run
	for i := range runs {
		rest := append(append([]Run(nil), runs[:i]...), runs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]Run{runs[i]}, p...))
		}
	}
	return out
}

func TestApplyRunEveryOrderEndsInTheFinalState(t *testing.T) {
	for _, conclusion := range []string{"success", "failure", "cancelled", "timed_out", "neutral"} {
		lifecycle := []Run{
			run(1, "requested", "", t0),
			run(1, "in_progress", "", t0.Add(5*time.Second)),
			run(1, "completed", conclusion, t0.Add(90*time.Second)),
		}
		wantPhase, _ := PhaseOf("completed", conclusion)
		// Each order, and each order with every event delivered twice.
		for _, order := range permutations(lifecycle) {
			for _, dup := range []bool{false, true} {
				st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhasePending}
				for _, r := range order {
					ApplyRun(&st, r, t0)
					if dup {
						if res := ApplyRun(&st, r, t0); res.Applied {
							t.Errorf("%s: a duplicate of %s was applied", conclusion, r.Status)
						}
					}
				}
				name := fmt.Sprintf("%s order %s,%s,%s dup=%v", conclusion, order[0].Status, order[1].Status, order[2].Status, dup)
				if st.Phase != wantPhase || st.Conclusion != conclusion {
					t.Errorf("%s: phase %s conclusion %q; want %s %q", name, st.Phase, st.Conclusion, wantPhase, conclusion)
				}
				if st.FinishedAt == nil || !st.FinishedAt.Time.Equal(t0.Add(90*time.Second)) || st.DurationMillis != 90000 {
					t.Errorf("%s: finishedAt %v duration %d", name, st.FinishedAt, st.DurationMillis)
				}
				if !st.LastEventAt.Time.Equal(t0.Add(90 * time.Second)) {
					t.Errorf("%s: lastEventAt %v", name, st.LastEventAt)
				}
			}
		}
	}
}

func TestApplyRunNeverMovesBackwards(t *testing.T) {
	tests := []struct {
		name      string
		before    castv1alpha1.CastStatus
		obs       Run
		applied   bool
		wantPhase castv1alpha1.CastPhase
	}{
		{"first event is applied", castv1alpha1.CastStatus{Phase: castv1alpha1.PhasePending},
			run(1, "queued", "", t0), true, castv1alpha1.PhaseQueued},
		{"queued after running is refused", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1, LastEventAt: mt(t0)},
			run(1, "queued", "", t0.Add(time.Minute)), false, castv1alpha1.PhaseRunning},
		{"same rank, older updated_at is refused", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1, LastEventAt: mt(t0)},
			run(1, "in_progress", "", t0.Add(-time.Second)), false, castv1alpha1.PhaseRunning},
		{"same rank, equal updated_at is refused", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseQueued, RunID: 42, RunAttempt: 1, LastEventAt: mt(t0)},
			run(1, "waiting", "", t0), false, castv1alpha1.PhaseQueued},
		{"same rank, newer updated_at is applied", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseQueued, RunID: 42, RunAttempt: 1, LastEventAt: mt(t0)},
			run(1, "waiting", "", t0.Add(time.Second)), true, castv1alpha1.PhaseQueued},
		{"terminal is not left by the same attempt", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseFailed, RunID: 42, RunAttempt: 1, LastEventAt: mt(t0)},
			run(1, "completed", "success", t0.Add(time.Hour)), false, castv1alpha1.PhaseFailed},
		{"an older attempt is refused", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 2, LastEventAt: mt(t0)},
			run(1, "completed", "success", t0.Add(time.Hour)), false, castv1alpha1.PhaseRunning},
		{"another run is refused", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseQueued, RunID: 7},
			run(1, "in_progress", "", t0), false, castv1alpha1.PhaseQueued},
		{"a timeout by the operator is not undone by attempt 1", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseTimedOut, RunID: 42},
			run(1, "in_progress", "", t0), false, castv1alpha1.PhaseTimedOut},
		{"a re-run leaves a terminal phase", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseFailed, RunID: 42, RunAttempt: 1, LastEventAt: mt(t0)},
			run(2, "queued", "", t0.Add(-time.Hour)), true, castv1alpha1.PhaseQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.before.DeepCopy()
			res := ApplyRun(st, tt.obs, t0)
			if res.Applied != tt.applied || st.Phase != tt.wantPhase {
				t.Errorf("applied=%v phase=%s (reason %q); want applied=%v phase=%s", res.Applied, st.Phase, res.Reason, tt.applied, tt.wantPhase)
			}
			if !res.Applied && res.Reason == "" {
				t.Error("a refused observation must say why")
			}
			if !res.Applied && !equality.Semantic.DeepEqual(*st, tt.before) {
				t.Errorf("a refused observation changed the status:\n got %+v\nwant %+v", *st, tt.before)
			}
		})
	}
}

func TestApplyRunRerunStartsClean(t *testing.T) {
	st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhasePending}
	ApplyRun(&st, run(1, "completed", "failure", t0.Add(time.Minute)), t0)
	st.Artifacts = []castv1alpha1.Artifact{{Name: "logs"}}
	st.CostCents = 3
	st.Progress = 60

	rerun := run(2, "in_progress", "", t0.Add(time.Hour))
	rerun.StartedAt = time.Time{}
	res := ApplyRun(&st, rerun, t0)
	if !res.Applied || !res.NewAttempt {
		t.Fatalf("re-run not applied as a new attempt: %+v", res)
	}
	if st.Phase != castv1alpha1.PhaseRunning || st.RunAttempt != 2 || st.Conclusion != "" || st.FinishedAt != nil ||
		st.DurationMillis != 0 || st.CostCents != 0 || st.Artifacts != nil || st.Progress != 0 || st.StartedAt != nil {
		t.Errorf("re-run kept the old attempt's state: %+v", st)
	}
	if !meta.IsStatusConditionTrue(st.Conditions, castv1alpha1.ConditionRunning) ||
		!meta.IsStatusConditionFalse(st.Conditions, castv1alpha1.ConditionComplete) {
		t.Errorf("conditions not reset for the re-run: %+v", st.Conditions)
	}
}

func TestApplyRunRecordsRunDetails(t *testing.T) {
	st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhasePending}
	r := run(0, "completed", "success", t0.Add(1500*time.Millisecond))
	if !ApplyRun(&st, r, t0).Applied {
		t.Fatal("not applied")
	}
	if st.RunID != 42 || st.RunAttempt != 1 || st.RunURL != r.HTMLURL || st.Progress != 100 {
		t.Errorf("run details: %+v", st)
	}
	// Timestamps keep whole seconds, as the API server stores them.
	if st.DurationMillis != 1000 || !st.StartedAt.Time.Equal(t0) {
		t.Errorf("duration %d startedAt %v", st.DurationMillis, st.StartedAt)
	}
	if st.Concluded() || !meta.IsStatusConditionTrue(st.Conditions, castv1alpha1.ConditionReconciling) {
		t.Errorf("the outcome is the reconciler's to record once artifacts and cost are in: %+v", st.Conditions)
	}
	noTime := Run{ID: 42, Attempt: 2, Status: "queued"}
	ApplyRun(&st, noTime, t0.Add(time.Hour))
	if !st.LastEventAt.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("without updated_at, lastEventAt should be now; got %v", st.LastEventAt)
	}
}

func mt(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func TestLater(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	run := func(attempt int64, status, conclusion string, updated time.Time) Run {
		return Run{ID: 1, Attempt: attempt, Status: status, Conclusion: conclusion, UpdatedAt: updated}
	}
	tests := []struct {
		name string
		a, b Run
		want bool
	}{
		{"a re-run comes after a finished attempt", run(2, "queued", "", at), run(1, "completed", "success", at.Add(time.Hour)), true},
		{"attempt 0 counts as 1", run(0, "completed", "success", at), run(1, "in_progress", "", at), true},
		{"further along in the same attempt", run(1, "completed", "failure", at), run(1, "in_progress", "", at.Add(time.Minute)), true},
		{"as far along, updated later", run(1, "in_progress", "", at.Add(time.Second)), run(1, "in_progress", "", at), true},
		{"updated within the same second is not later", run(1, "in_progress", "", at.Add(500*time.Millisecond)), run(1, "in_progress", "", at), false},
		{"an equal snapshot is not later", run(1, "queued", "", at), run(1, "queued", "", at), false},
		{"earlier in the order", run(1, "queued", "", at.Add(time.Hour)), run(1, "in_progress", "", at), false},
		{"no updated_at is now, after any time", run(1, "in_progress", "", time.Time{}), run(1, "in_progress", "", at), true},
		{"a time is before no updated_at", run(1, "in_progress", "", at), run(1, "in_progress", "", time.Time{}), false},
		{"two without updated_at are equal", run(1, "in_progress", "", time.Time{}), run(1, "in_progress", "", time.Time{}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Later(tt.a, tt.b); got != tt.want {
				t.Errorf("Later = %v, want %v", got, tt.want)
			}
		})
	}
}
