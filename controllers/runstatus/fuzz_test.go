package runstatus

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

var fuzzStatuses = []string{"requested", "queued", "pending", "waiting", "in_progress", "completed", "bogus", ""}
var fuzzConclusions = []string{"", "success", "failure", "cancelled", "timed_out", "skipped", "neutral", "stale", "action_required", "startup_failure", "weird"}

// FuzzApplyRun feeds sequences of run observations, decoded from fuzz
// bytes, and checks the promises status makes to users: no panic, a
// finished attempt never changes phase, and no observation of an older
// attempt ever moves the status.
func FuzzApplyRun(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 1, 4, 0, 1, 1, 5, 1, 2})
	f.Add([]byte{1, 5, 2, 0, 0, 1, 0, 4, 0, 2, 0, 1})
	f.Add([]byte{0, 5, 3, 9, 1, 0, 0, 3, 0, 0, 5, 1, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhasePending}
		for i := 0; i+3 < len(ops); i += 4 {
			run := Run{
				ID:         42,
				Attempt:    int64(ops[i] % 4),
				Status:     fuzzStatuses[int(ops[i+1])%len(fuzzStatuses)],
				Conclusion: fuzzConclusions[int(ops[i+2])%len(fuzzConclusions)],
				UpdatedAt:  t0.Add(time.Duration(ops[i+3]) * time.Second),
			}
			before := *st.DeepCopy()
			res := ApplyRun(&st, run, t0)
			attempt := max(run.Attempt, 1)
			if before.Phase.IsTerminal() && attempt <= max(before.RunAttempt, 1) && st.Phase != before.Phase {
				t.Fatalf("finished attempt %d moved from %s to %s by %+v", before.RunAttempt, before.Phase, st.Phase, run)
			}
			if before.RunAttempt != 0 && attempt < before.RunAttempt && res.Applied {
				t.Fatalf("an observation of attempt %d was applied over attempt %d", attempt, before.RunAttempt)
			}
			if res.Applied && st.RunAttempt != attempt {
				t.Fatalf("applied attempt %d but status says %d", attempt, st.RunAttempt)
			}
			if !res.Applied && res.Reason == "" {
				t.Fatal("a refusal without a reason")
			}
			if st.Progress < 0 || st.Progress > 100 {
				t.Fatalf("progress %d out of range", st.Progress)
			}
		}
	})
}

// jobAt is job id's snapshot at stage s of its life: queued, then each of
// three steps completing, then completed; attempt a.
func jobAt(id int64, a int64, s int) Job {
	j := Job{ID: id, RunID: 42, Attempt: a, Name: "job", Status: "queued"}
	if s > 0 {
		j.Status = "in_progress"
	}
	for k := range 3 {
		st := Step{Number: int64(k + 1), Name: "step", Status: "queued"}
		if k < s-1 || s == 5 {
			st.Status, st.Conclusion = "completed", "success"
		} else if k == s-1 {
			st.Status = "in_progress"
		}
		j.Steps = append(j.Steps, st)
	}
	if s == 5 {
		j.Status, j.Conclusion = "completed", "success"
	}
	return j
}

// FuzzApplyJob feeds job snapshots in any order and checks that the order
// does not matter: status ends holding, for each job, its latest snapshot
// of the latest attempt seen, whatever order they came in, and progress
// never goes down within an attempt.
func FuzzApplyJob(f *testing.F) {
	f.Add([]byte{0, 1, 5, 1, 0, 3, 2, 2, 4})
	f.Add([]byte{1, 5, 0, 0, 0, 0, 7, 1, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var snaps []Job
		for i := 0; i+2 < len(ops); i += 3 {
			snaps = append(snaps, jobAt(int64(ops[i]%3+1), int64(ops[i+1]%2+1), int(ops[i+2]%6)))
		}
		st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1}
		for _, j := range snaps {
			before := st.Progress
			attempt := jobsAttempt(&st)
			ApplyJob(&st, j)
			if jobsAttempt(&st) == attempt && st.Progress < before {
				t.Fatalf("progress fell from %d to %d within attempt %d", before, st.Progress, attempt)
			}
		}
		// The same snapshots in their natural order: latest attempt, then
		// latest stage, last.
		sorted := slices.Clone(snaps)
		slices.SortStableFunc(sorted, func(a, b Job) int {
			return cmp.Or(cmp.Compare(a.Attempt, b.Attempt), cmp.Compare(jobRank(a), jobRank(b)))
		})
		want := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1}
		for _, j := range sorted {
			ApplyJob(&want, j)
		}
		if !equality.Semantic.DeepEqual(st.Jobs, want.Jobs) {
			t.Fatalf("order changed the outcome:\n got %+v\nwant %+v", st.Jobs, want.Jobs)
		}
	})
}
