package runstatus

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// life is one job's snapshots in the order GitHub sends them: queued, then
// each step starting and completing, then the job completing.
func life() []Job {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	queued := Job{ID: 7, RunID: 42, Attempt: 1, Name: "build", Status: "queued"}
	out := []Job{queued}
	// in_progress, its steps not yet started: the runner picked it up.
	picked := queued
	picked.Status, picked.StartedAt = "in_progress", at(1)
	picked.Steps = []Step{{Number: 1, Name: "Set up job", Status: "queued"}, {Number: 2, Name: "Cast", Status: "queued"}}
	out = append(out, picked)
	for k := range picked.Steps {
		started := clone(out[len(out)-1])
		started.Steps[k].Status, started.Steps[k].StartedAt = "in_progress", at(10*k+2)
		done := clone(started)
		done.Steps[k].Status, done.Steps[k].Conclusion, done.Steps[k].CompletedAt = "completed", "success", at(10*k+9)
		out = append(out, started, done)
	}
	finished := clone(out[len(out)-1])
	finished.Status, finished.Conclusion, finished.CompletedAt = "completed", "success", at(30)
	return append(out, finished)
}

func clone(j Job) Job {
	j.Steps = append([]Step(nil), j.Steps...)
	return j
}

// Every snapshot of a job's life ranks above the ones before it, a step
// starting included, and a stored job ranks as the snapshot it came from
// whether or not its steps were kept.
func TestJobRankFollowsTheJobsLife(t *testing.T) {
	snaps := life()
	for i, j := range snaps {
		if i > 0 && jobRank(j) <= jobRank(snaps[i-1]) {
			t.Errorf("snapshot #%d ranks %#x, not above #%d's %#x", i, jobRank(j), i-1, jobRank(snaps[i-1]))
		}
		for _, budget := range []int{0, 1, castv1alpha1.MaxStepsPerCast} {
			if got := jobRankOf(toJobStatus(j, 1, budget)); got != jobRank(j) {
				t.Errorf("snapshot #%d stored with a budget of %d steps ranks %#x, want %#x", i, budget, got, jobRank(j))
			}
		}
	}
}

// Step changes reach status as they happen, and whatever order the
// deliveries come in, an older one never undoes a newer one, even when
// the steps themselves were left out of status.
func TestApplyJobStepChanges(t *testing.T) {
	snaps := life()
	tests := []struct {
		name    string
		budget  int // steps the other jobs leave for this one
		stored  int // index into snaps
		next    int
		changed bool
	}{
		{"a step starts", castv1alpha1.MaxStepsPerCast, 1, 2, true},
		{"the next step starts", castv1alpha1.MaxStepsPerCast, 3, 4, true},
		{"a step completes", castv1alpha1.MaxStepsPerCast, 2, 3, true},
		{"a step that started is not unstarted", castv1alpha1.MaxStepsPerCast, 2, 1, false},
		{"the same delivery twice", castv1alpha1.MaxStepsPerCast, 4, 4, false},
		{"steps left out: a step starts", 0, 3, 4, true},
		{"steps left out: not unstarted", 0, 4, 3, false},
		{"steps left out: the same delivery twice", 0, 4, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1}
			st.Jobs = []castv1alpha1.JobStatus{toJobStatus(snaps[tt.stored], 1, tt.budget)}
			if got := ApplyJob(&st, snaps[tt.next]); got != tt.changed {
				t.Errorf("changed = %v, want %v", got, tt.changed)
			}
			want := max(tt.stored, tt.next)
			if st.Jobs[0].StepsStarted != toJobStatus(snaps[want], 1, 0).StepsStarted {
				t.Errorf("%d steps started, want snapshot #%d's", st.Jobs[0].StepsStarted, want)
			}
		})
	}
}

// Casts written before StepsStarted existed still refuse an older
// delivery: their kept steps tell which started.
func TestJobRankOfStatusWithoutStepsStarted(t *testing.T) {
	snaps := life()
	legacy := toJobStatus(snaps[4], 1, castv1alpha1.MaxStepsPerCast) // step 2 running
	legacy.StepsStarted = 0
	st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1, Jobs: []castv1alpha1.JobStatus{legacy}}
	if ApplyJob(&st, snaps[3]) {
		t.Errorf("the older delivery (step 2 not started) replaced %+v", legacy)
	}
	if !ApplyJob(&st, snaps[5]) || st.Jobs[0].StepsStarted != 2 {
		t.Errorf("the newer delivery (step 2 done) was refused: %+v", st.Jobs[0])
	}
}

// The rank keeps its order however many steps a job has.
func TestJobRankClampsStepCounts(t *testing.T) {
	many := func(status string, completed, running int) Job {
		j := Job{ID: 1, Status: status}
		for range completed {
			j.Steps = append(j.Steps, Step{Status: "completed"})
		}
		for range running {
			j.Steps = append(j.Steps, Step{Status: "in_progress"})
		}
		return j
	}
	ordered := []Job{many("in_progress", 3000, 1), many("completed", 0, 0), many("completed", 5000, 0)}
	for i := 1; i < len(ordered); i++ {
		if jobRank(ordered[i]) <= jobRank(ordered[i-1]) {
			t.Errorf("#%d ranks %#x, not above #%d's %#x", i, jobRank(ordered[i]), i-1, jobRank(ordered[i-1]))
		}
	}
}

// What status keeps of a job: its link and its steps' times, at second
// precision in UTC as the API server stores them, the link cut to what the
// CRD allows.
func TestToJobStatusKeepsLinkAndStepTimes(t *testing.T) {
	local := time.FixedZone("CEST", 2*60*60)
	started := time.Date(2026, 3, 2, 11, 15, 12, 500_000_000, local)
	j := Job{ID: 1, Status: "in_progress", HTMLURL: "https://github.com/o/r/actions/runs/42/job/1",
		Steps: []Step{
			{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success", StartedAt: started, CompletedAt: started.Add(2 * time.Second)},
			{Number: 2, Name: "Cast", Status: "in_progress", StartedAt: started.Add(2 * time.Second)},
			{Number: 3, Name: "Report", Status: "queued"},
		}}
	got := toJobStatus(j, 1, castv1alpha1.MaxStepsPerCast)
	utc := func(s int) *metav1.Time {
		return &metav1.Time{Time: time.Date(2026, 3, 2, 9, 15, 12+s, 0, time.UTC)}
	}
	want := []castv1alpha1.StepStatus{
		{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success", StartedAt: utc(0), CompletedAt: utc(2)},
		{Number: 2, Name: "Cast", Status: "in_progress", StartedAt: utc(2)},
		{Number: 3, Name: "Report", Status: "queued"},
	}
	if got.HTMLURL != j.HTMLURL {
		t.Errorf("htmlURL %q, want %q", got.HTMLURL, j.HTMLURL)
	}
	if len(got.Steps) != len(want) {
		t.Fatalf("steps %+v, want %+v", got.Steps, want)
	}
	for i := range want {
		g, w := got.Steps[i], want[i]
		if g.Number != w.Number || g.Status != w.Status || !g.StartedAt.Equal(w.StartedAt) || !g.CompletedAt.Equal(w.CompletedAt) ||
			(g.StartedAt != nil && g.StartedAt.Location() != time.UTC) {
			t.Errorf("step %d: %+v, want %+v", i+1, g, w)
		}
	}
	if got.StepsStarted != 2 || got.StepsCompleted != 1 {
		t.Errorf("%d steps started and %d completed, want 2 and 1", got.StepsStarted, got.StepsCompleted)
	}
	long := toJobStatus(Job{ID: 1, HTMLURL: "https://github.com/" + strings.Repeat("ö", 400)}, 1, 0).HTMLURL
	if len(long) > maxURLLen || !strings.HasSuffix(long, "…") {
		t.Errorf("a %d-byte link was kept as %d bytes", 19+800, len(long))
	}
}

func TestSupersedes(t *testing.T) {
	snaps := life()
	rerun := Job{ID: 7, RunID: 42, Attempt: 2, Status: "queued"}
	tests := []struct {
		name       string
		next, held Job
		want       bool
	}{
		{"a step started", snaps[2], snaps[1], true},
		{"a step not yet started, heard late", snaps[1], snaps[2], false},
		{"the job completed", snaps[len(snaps)-1], snaps[3], true},
		{"the same news again", snaps[3], snaps[3], true},
		{"a new attempt, however early", rerun, snaps[len(snaps)-1], true},
		{"the previous attempt, however late", snaps[len(snaps)-1], rerun, false},
		{"no attempt means the first", Job{ID: 7, Status: "in_progress"}, Job{ID: 7, Attempt: 1, Status: "queued"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Supersedes(tt.next, tt.held); got != tt.want {
				t.Errorf("Supersedes = %v, want %v", got, tt.want)
			}
		})
	}
}
