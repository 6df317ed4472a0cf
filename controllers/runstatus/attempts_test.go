package runstatus

import (
	"testing"
	"time"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// A re-run's first snapshot moves the previous attempt's outcome into
// previousAttempts, once, and the list keeps only the latest ones.
func TestApplyRunKeepsPreviousAttempts(t *testing.T) {
	tests := []struct {
		name string
		// snapshots are applied in order to an empty status.
		snapshots []Run
		want      []castv1alpha1.AttemptOutcome
	}{
		{
			name:      "a single attempt keeps nothing",
			snapshots: []Run{run(1, "in_progress", "", t0), run(1, "completed", "failure", t0.Add(time.Minute))},
		},
		{
			name: "a re-run keeps the failed attempt",
			snapshots: []Run{run(1, "completed", "failure", t0.Add(time.Minute)),
				run(2, "queued", "", t0.Add(time.Hour)), run(2, "completed", "success", t0.Add(2*time.Hour))},
			want: []castv1alpha1.AttemptOutcome{{Attempt: 1, Phase: castv1alpha1.PhaseFailed, Conclusion: "failure",
				URL: "https://github.com/o/r/actions/runs/42/attempts/1"}},
		},
		{
			name: "a re-run seen before its predecessor ended keeps what was known",
			snapshots: []Run{run(1, "in_progress", "", t0),
				run(2, "queued", "", t0.Add(time.Hour)), run(1, "completed", "failure", t0.Add(time.Minute))},
			want: []castv1alpha1.AttemptOutcome{{Attempt: 1, Phase: castv1alpha1.PhaseRunning,
				URL: "https://github.com/o/r/actions/runs/42/attempts/1"}},
		},
		{
			name: "attempts skipped by missed news are not invented",
			snapshots: []Run{run(1, "completed", "cancelled", t0.Add(time.Minute)),
				run(3, "completed", "success", t0.Add(time.Hour))},
			want: []castv1alpha1.AttemptOutcome{{Attempt: 1, Phase: castv1alpha1.PhaseCancelled, Conclusion: "cancelled",
				URL: "https://github.com/o/r/actions/runs/42/attempts/1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &castv1alpha1.CastStatus{}
			for _, s := range tt.snapshots {
				ApplyRun(st, s, t0)
			}
			if len(st.PreviousAttempts) != len(tt.want) {
				t.Fatalf("previousAttempts = %+v, want %+v", st.PreviousAttempts, tt.want)
			}
			for i, w := range tt.want {
				got := st.PreviousAttempts[i]
				if got.Attempt != w.Attempt || got.Phase != w.Phase || got.Conclusion != w.Conclusion || got.URL != w.URL {
					t.Errorf("previousAttempts[%d] = %+v, want %+v", i, got, w)
				}
				if got.StartedAt == nil || !got.StartedAt.Time.Equal(t0) {
					t.Errorf("previousAttempts[%d].startedAt = %v, want %v", i, got.StartedAt, t0)
				}
			}
		})
	}
}

func TestPreviousAttemptsBounded(t *testing.T) {
	st := &castv1alpha1.CastStatus{}
	last := int64(castv1alpha1.MaxPreviousAttempts + 5)
	for a := int64(1); a <= last; a++ {
		ApplyRun(st, run(a, "completed", "failure", t0.Add(time.Duration(a)*time.Hour)), t0)
	}
	if n := len(st.PreviousAttempts); n != castv1alpha1.MaxPreviousAttempts {
		t.Fatalf("kept %d previous attempts, want %d", n, castv1alpha1.MaxPreviousAttempts)
	}
	if first, latest := st.PreviousAttempts[0].Attempt, st.PreviousAttempts[castv1alpha1.MaxPreviousAttempts-1].Attempt; first != last-castv1alpha1.MaxPreviousAttempts || latest != last-1 {
		t.Errorf("kept attempts %d..%d, want %d..%d", first, latest, last-castv1alpha1.MaxPreviousAttempts, last-1)
	}
}
