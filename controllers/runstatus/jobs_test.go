package runstatus

import (
	"testing"
	"time"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

func steps(statuses ...string) []Step {
	out := make([]Step, len(statuses))
	for i, s := range statuses {
		out[i] = Step{Number: int64(i + 1), Name: []string{"Set up job", "Checkout", "Cast", "Report"}[i], Status: s}
	}
	return out
}

func TestProgress(t *testing.T) {
	tests := []struct {
		name    string
		jobs    []Job
		want    int32
		wantMsg string
	}{
		{"no jobs", nil, 0, ""},
		{"one queued job", []Job{{ID: 1, Name: "build", Status: "queued"}}, 0, "0 of 1 jobs done"},
		{"half the steps of the only job", []Job{{ID: 1, Name: "build", Status: "in_progress",
			Steps: steps("completed", "completed", "in_progress", "queued")}}, 50, "build: Cast"},
		{"one of two jobs done, other halfway", []Job{
			{ID: 1, Name: "build", Status: "completed", Conclusion: "success"},
			{ID: 2, Name: "test", Status: "in_progress", Steps: steps("completed", "in_progress")},
		}, 75, "test: Checkout"},
		{"every step completed but job not yet", []Job{{ID: 1, Name: "build", Status: "in_progress",
			Steps: steps("completed", "completed")}}, 99, "build"},
		{"all jobs done", []Job{
			{ID: 1, Status: "completed"}, {ID: 2, Status: "completed"}, {ID: 3, Status: "completed"},
		}, 100, "3 of 3 jobs done"},
		{"a third", []Job{{ID: 1, Status: "completed"}, {ID: 2, Status: "queued"}, {ID: 3, Status: "queued"}}, 33, "1 of 3 jobs done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := Progress(tt.jobs)
			if got != tt.want || msg != tt.wantMsg {
				t.Errorf("Progress = %d, %q; want %d, %q", got, msg, tt.want, tt.wantMsg)
			}
		})
	}
}

func TestNewerJobSnapshot(t *testing.T) {
	queued := Job{ID: 1, Attempt: 1, Status: "queued"}
	oneStep := Job{ID: 1, Attempt: 1, Status: "in_progress", Steps: steps("completed", "in_progress")}
	twoSteps := Job{ID: 1, Attempt: 1, Status: "in_progress", Steps: steps("completed", "completed")}
	done := Job{ID: 1, Attempt: 1, Status: "completed", Steps: steps("completed", "completed")}
	rerun := Job{ID: 1, Attempt: 2, Status: "queued"}
	order := []Job{queued, oneStep, twoSteps, done, rerun}
	for i := range order {
		for k := range order {
			if got, want := Newer(order[i], order[k]), k > i; got != want {
				t.Errorf("Newer(#%d, #%d) = %v, want %v", i, k, got, want)
			}
		}
	}
}

func TestApplyJobs(t *testing.T) {
	running := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 2, Progress: 40, Message: "run in progress"}
	half := Job{ID: 1, RunID: 42, Attempt: 2, Name: "build", Status: "in_progress", Steps: steps("completed", "completed", "in_progress", "queued")}
	tests := []struct {
		name        string
		before      castv1alpha1.CastStatus
		jobs        []Job
		changed     bool
		wantProg    int32
		wantMessage string
	}{
		{"progress and step message", running, []Job{half}, true, 50, "build: Cast"},
		{"progress never drops within an attempt",
			castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 2, Progress: 80}, []Job{half}, true, 80, "build: Cast"},
		{"jobs of an older attempt are ignored", running, []Job{{ID: 1, RunID: 42, Attempt: 1, Status: "completed"}}, false, 40, "run in progress"},
		{"jobs of another run are ignored", running, []Job{{ID: 1, RunID: 7, Attempt: 2, Status: "completed"}}, false, 40, "run in progress"},
		{"a finished cast is left alone", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseFailed, RunID: 42, RunAttempt: 2, Progress: 40, Message: "run finished as failure"},
			[]Job{half}, false, 40, "run finished as failure"},
		{"the phase is never touched", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseQueued, RunID: 42, RunAttempt: 2},
			[]Job{{ID: 1, RunID: 42, Attempt: 2, Status: "completed"}}, true, 100, "1 of 1 jobs done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.before.DeepCopy()
			changed := ApplyJobs(st, tt.jobs)
			if changed != tt.changed || st.Progress != tt.wantProg || st.Message != tt.wantMessage {
				t.Errorf("changed=%v progress=%d message=%q; want %v %d %q", changed, st.Progress, st.Message, tt.changed, tt.wantProg, tt.wantMessage)
			}
			if st.Phase != tt.before.Phase {
				t.Errorf("phase moved from %s to %s", tt.before.Phase, st.Phase)
			}
		})
	}
}

func TestCostCents(t *testing.T) {
	job := func(d time.Duration, labels ...string) Job {
		return Job{StartedAt: t0, CompletedAt: t0.Add(d), Labels: labels}
	}
	tests := []struct {
		name string
		jobs []Job
		want int64
	}{
		{"nothing ran", nil, 0},
		{"61 s on linux bills 2 minutes", []Job{job(61*time.Second, "ubuntu-latest")}, 2},                                 // 1.6 → 2
		{"each job rounds up on its own", []Job{job(time.Second, "ubuntu-latest"), job(time.Second, "ubuntu-latest")}, 2}, // 0.8+0.8
		{"windows", []Job{job(10*time.Minute, "windows-latest")}, 16},
		{"macos", []Job{job(3*time.Minute, "macos-14")}, 24},
		{"self-hosted is free", []Job{job(time.Hour, "self-hosted", "linux", "x64")}, 0},
		{"a job that never started costs nothing", []Job{{Labels: []string{"ubuntu-latest"}}}, 0},
		{"mixed", []Job{job(5*time.Minute, "ubuntu-22.04"), job(5*time.Minute, "macos-latest")}, 44},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CostCents(tt.jobs, DefaultRates); got != tt.want {
				t.Errorf("CostCents = %d, want %d", got, tt.want)
			}
		})
	}
}
