package runstatus

import (
	"testing"
	"time"

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
