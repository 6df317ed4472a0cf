package runstatus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

func steps(statuses ...string) []Step {
	out := make([]Step, len(statuses))
	for i, s := range statuses {
		out[i] = Step{Number: int64(i + 1), Name: []string{"Set up job", "Checkout", "Cast", "Report"}[i], Status: s}
	}
	return out
}

// stored turns snapshots into what status keeps of them.
func stored(jobs ...Job) []castv1alpha1.JobStatus {
	out := make([]castv1alpha1.JobStatus, len(jobs))
	for i, j := range jobs {
		out[i] = toJobStatus(j, 1, castv1alpha1.MaxStepsPerCast)
	}
	return out
}

func TestProgress(t *testing.T) {
	tests := []struct {
		name    string
		jobs    []castv1alpha1.JobStatus
		want    int32
		wantMsg string
	}{
		{"no jobs", nil, 0, ""},
		{"one queued job", stored(Job{ID: 1, Name: "build", Status: "queued"}), 0, "0 of 1 jobs done"},
		{"half the steps of the only job", stored(Job{ID: 1, Name: "build", Status: "in_progress",
			Steps: steps("completed", "completed", "in_progress", "queued")}), 50, "build: Cast"},
		{"one of two jobs done, other halfway", stored(
			Job{ID: 1, Name: "build", Status: "completed", Conclusion: "success"},
			Job{ID: 2, Name: "test", Status: "in_progress", Steps: steps("completed", "in_progress")},
		), 75, "test: Checkout"},
		{"every step completed but job not yet", stored(Job{ID: 1, Name: "build", Status: "in_progress",
			Steps: steps("completed", "completed")}), 99, "build"},
		{"all jobs done", stored(
			Job{ID: 1, Status: "completed"}, Job{ID: 2, Status: "completed"}, Job{ID: 3, Status: "completed"},
		), 100, "3 of 3 jobs done"},
		{"a third", stored(Job{ID: 1, Status: "completed"}, Job{ID: 2, Status: "queued"}, Job{ID: 3, Status: "queued"}), 33, "1 of 3 jobs done"},
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

// Whatever order two snapshots of a job arrive in, status keeps the later.
func TestApplyJobKeepsTheLaterSnapshot(t *testing.T) {
	queued := Job{ID: 1, Attempt: 1, Status: "queued"}
	oneStep := Job{ID: 1, Attempt: 1, Status: "in_progress", Steps: steps("completed", "in_progress")}
	twoSteps := Job{ID: 1, Attempt: 1, Status: "in_progress", Steps: steps("completed", "completed")}
	done := Job{ID: 1, Attempt: 1, Status: "completed", Conclusion: "success", Steps: steps("completed", "completed")}
	rerun := Job{ID: 1, Attempt: 2, Status: "queued"}
	order := []Job{queued, oneStep, twoSteps, done, rerun}
	for i := range order {
		for k := range order {
			st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1}
			ApplyJob(&st, order[i])
			changed := ApplyJob(&st, order[k])
			want := toJobStatus(order[max(i, k)], max(order[max(i, k)].Attempt, 1), castv1alpha1.MaxStepsPerCast)
			if len(st.Jobs) != 1 || !equality.Semantic.DeepEqual(st.Jobs[0], want) {
				t.Errorf("#%d then #%d: jobs %+v, want %+v", i, k, st.Jobs, want)
			}
			if changed != (k > i) {
				t.Errorf("#%d then #%d: changed = %v, want %v", i, k, changed, k > i)
			}
		}
	}
}

func TestApplyJob(t *testing.T) {
	running := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 2, Progress: 40, Message: "run in progress"}
	half := Job{ID: 1, RunID: 42, Attempt: 2, Name: "build", Status: "in_progress", Steps: steps("completed", "completed", "in_progress", "queued")}
	tests := []struct {
		name        string
		before      castv1alpha1.CastStatus
		job         Job
		changed     bool
		wantJobs    int
		wantProg    int32
		wantMessage string
	}{
		{"progress and step message", running, half, true, 1, 50, "build: Cast"},
		{"progress never drops within an attempt",
			castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 2, Progress: 80}, half, true, 1, 80, "build: Cast"},
		{"jobs of an older attempt are ignored", running, Job{ID: 1, RunID: 42, Attempt: 1, Status: "completed"}, false, 0, 40, "run in progress"},
		{"jobs of another run are ignored", running, Job{ID: 1, RunID: 7, Attempt: 2, Status: "completed"}, false, 0, 40, "run in progress"},
		{"a later attempt's job is kept, progress waits for its run", running,
			Job{ID: 9, RunID: 42, Attempt: 3, Status: "queued"}, true, 1, 40, "run in progress"},
		{"a finished cast keeps its job news, not its progress", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseFailed, RunID: 42, RunAttempt: 2, Progress: 40, Message: "run finished as failure"},
			half, true, 1, 40, "run finished as failure"},
		{"the phase is never touched", castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseQueued, RunID: 42, RunAttempt: 2},
			Job{ID: 1, RunID: 42, Attempt: 2, Status: "completed"}, true, 1, 100, "1 of 1 jobs done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.before.DeepCopy()
			changed := ApplyJob(st, tt.job)
			if changed != tt.changed || len(st.Jobs) != tt.wantJobs || st.Progress != tt.wantProg || st.Message != tt.wantMessage {
				t.Errorf("changed=%v jobs=%d progress=%d message=%q; want %v %d %d %q",
					changed, len(st.Jobs), st.Progress, st.Message, tt.changed, tt.wantJobs, tt.wantProg, tt.wantMessage)
			}
			if st.Phase != tt.before.Phase {
				t.Errorf("phase moved from %s to %s", tt.before.Phase, st.Phase)
			}
		})
	}
}

// A new attempt's run snapshot keeps the jobs already heard of for it and
// drops the previous attempt's.
func TestNewAttemptKeepsItsOwnJobs(t *testing.T) {
	st := castv1alpha1.CastStatus{}
	ApplyRun(&st, Run{ID: 42, Attempt: 1, Status: "completed", Conclusion: "failure", UpdatedAt: t0}, t0)
	ApplyJob(&st, Job{ID: 1, RunID: 42, Attempt: 1, Name: "build", Status: "completed", Conclusion: "failure"})
	ApplyJob(&st, Job{ID: 2, RunID: 42, Attempt: 2, Name: "build", Status: "in_progress", Steps: steps("completed", "in_progress")})
	if len(st.Jobs) != 1 || st.Jobs[0].ID != 2 || st.Phase != castv1alpha1.PhaseFailed {
		t.Fatalf("before the new attempt's run: phase %s, jobs %+v", st.Phase, st.Jobs)
	}
	ApplyRun(&st, Run{ID: 42, Attempt: 2, Status: "in_progress", UpdatedAt: t0.Add(time.Minute)}, t0)
	if st.Phase != castv1alpha1.PhaseRunning || len(st.Jobs) != 1 || st.Progress != 50 || st.Message != "build: Checkout" {
		t.Errorf("after: phase %s progress %d message %q jobs %+v", st.Phase, st.Progress, st.Message, st.Jobs)
	}
}

// A huge matrix stays within the bounds the API documents.
func TestJobBounds(t *testing.T) {
	st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1}
	many := make([]Step, 60)
	for i := range many {
		many[i] = Step{Number: int64(i + 1), Name: strings.Repeat("ß", 200), Status: "completed"}
	}
	var all []Job
	for id := int64(1); id <= castv1alpha1.MaxJobs+20; id++ {
		all = append(all, Job{ID: id, RunID: 42, Attempt: 1, Name: strings.Repeat("matrix-", 60), Status: "in_progress", Steps: many})
	}
	for _, j := range all {
		ApplyJob(&st, j)
	}
	// Webhooks alone say some were left out; news of them again changes
	// nothing (no status write per redelivery or resync).
	if len(st.Jobs) != castv1alpha1.MaxJobs || st.JobsOmitted != 1 {
		t.Errorf("kept %d jobs, %d omitted; want %d and 1", len(st.Jobs), st.JobsOmitted, castv1alpha1.MaxJobs)
	}
	if ApplyJob(&st, all[len(all)-1]) {
		t.Error("news of a job left out changed status again")
	}
	// A listing of every job makes the count exact, once.
	if !CountOmitted(&st, all) || st.JobsOmitted != 20 || CountOmitted(&st, all) {
		t.Errorf("after the listing %d omitted, want 20, changed once", st.JobsOmitted)
	}
	steps := 0
	for _, j := range st.Jobs {
		steps += len(j.Steps)
		if len(j.Steps) > castv1alpha1.MaxStepsPerJob || int(j.StepsOmitted)+len(j.Steps) != len(many) || j.StepsCompleted != int32(len(many)) {
			t.Fatalf("job %d: %d steps kept, %d omitted, %d completed", j.ID, len(j.Steps), j.StepsOmitted, j.StepsCompleted)
		}
		if len(j.Name) > maxNameLen || !utf8.ValidString(j.Name) {
			t.Fatalf("job name of %d bytes, valid UTF-8 %v", len(j.Name), utf8.ValidString(j.Name))
		}
		for _, s := range j.Steps {
			if len(s.Name) > maxNameLen || !utf8.ValidString(s.Name) || !strings.HasSuffix(s.Name, "…") {
				t.Fatalf("step name %q (%d bytes) not cut to %d", s.Name, len(s.Name), maxNameLen)
			}
		}
	}
	if steps != castv1alpha1.MaxStepsPerCast {
		t.Errorf("%d steps kept in all, want %d", steps, castv1alpha1.MaxStepsPerCast)
	}
	if st.Progress > 99 {
		t.Errorf("progress %d with jobs omitted, want at most 99", st.Progress)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 512<<10 {
		t.Errorf("status at the bounds is %d KiB, want well under etcd's 1.5 MiB", len(raw)>>10)
	}
	t.Logf("status at the bounds: %d KiB", len(raw)>>10)
}

// With every string at the longest status keeps, a status at the bounds
// is still well under etcd's 1.5 MiB, with room for the Cast's spec,
// metadata and managedFields.
func TestJobBoundsWorstCase(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	st := castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: 42, RunAttempt: 1}
	labels := make([]string, 20)
	for i := range labels {
		labels[i] = long(300)
	}
	for id := range int64(castv1alpha1.MaxJobs + 10) {
		j := Job{ID: 1e12 + id, RunID: 42, Attempt: 1, Name: long(300), Status: "in_progress", Conclusion: long(40),
			Labels: labels, HTMLURL: long(600), StartedAt: t0, CompletedAt: t0}
		for k := range 3 {
			j.Steps = append(j.Steps, Step{Number: int64(k + 1), Name: long(300), Status: "completed", Conclusion: long(40),
				StartedAt: t0, CompletedAt: t0})
		}
		ApplyJob(&st, j)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status at the bounds, every string at its longest: %d KiB", len(raw)>>10)
	if len(raw) > 1280<<10 {
		t.Errorf("status at the bounds is %d KiB, want at most 1.25 MiB", len(raw)>>10)
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
