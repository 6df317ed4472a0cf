package runstatus

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Lengths the CRD allows for job and step strings; longer ones are cut so a
// status write is never refused over a long matrix name.
const (
	maxNameLen  = 256
	maxWordLen  = 32
	maxLabels   = 8
	maxLabelLen = 64
	maxURLLen   = 512
	ellipsis    = "…"
)

// ApplyJob merges one job snapshot into st.Jobs and, while the Cast runs,
// into progress and message. Jobs follow the same monotonic rules as runs:
// a snapshot that is not newer than the stored one is ignored, a job of an
// older attempt is ignored, and a job of a later attempt starts the list
// afresh. It never changes the phase, never lowers progress within an
// attempt, and reports whether st changed.
func ApplyJob(st *castv1alpha1.CastStatus, j Job) bool {
	if st.RunID != 0 && j.RunID != 0 && j.RunID != st.RunID {
		return false
	}
	attempt := max(j.Attempt, 1)
	switch current := jobsAttempt(st); {
	case attempt < current:
		return false
	case attempt > current:
		st.Jobs, st.JobsOmitted = nil, 0
	}
	i, found := slices.BinarySearchFunc(st.Jobs, j.ID, func(s castv1alpha1.JobStatus, id int64) int { return cmp.Compare(s.ID, id) })
	switch {
	case found && jobRankOf(st.Jobs[i]) >= jobRank(j):
		return false
	case found:
		st.Jobs[i] = toJobStatus(j, attempt, stepBudget(st.Jobs, i))
	case len(st.Jobs) >= castv1alpha1.MaxJobs:
		// Which jobs were counted is not kept, so a webhook only says
		// some are left out; CountOmitted makes it exact from a listing.
		if st.JobsOmitted > 0 {
			return false
		}
		st.JobsOmitted = 1
		refreshProgress(st)
		return true
	default:
		st.Jobs = slices.Insert(st.Jobs, i, toJobStatus(j, attempt, stepBudget(st.Jobs, -1)))
	}
	refreshProgress(st)
	return true
}

// CountOmitted sets JobsOmitted from a listing of every job of the run
// (the REST API's): the jobs of the stored attempt that status does not
// keep. It reports whether st changed.
func CountOmitted(st *castv1alpha1.CastStatus, listed []Job) bool {
	attempt := jobsAttempt(st)
	omitted := int32(0)
	for _, j := range listed {
		if max(j.Attempt, 1) != attempt {
			continue
		}
		if _, kept := slices.BinarySearchFunc(st.Jobs, j.ID, func(s castv1alpha1.JobStatus, id int64) int { return cmp.Compare(s.ID, id) }); !kept {
			omitted++
		}
	}
	if omitted == st.JobsOmitted {
		return false
	}
	st.JobsOmitted = omitted
	refreshProgress(st)
	return true
}

// jobsAttempt is the attempt the stored jobs belong to: the run's, or a
// later one whose jobs were heard of before its run was.
func jobsAttempt(st *castv1alpha1.CastStatus) int64 {
	a := max(st.RunAttempt, 1)
	if len(st.Jobs) > 0 {
		a = max(a, st.Jobs[0].Attempt)
	}
	return a
}

// keepJobsOf drops the jobs of attempts other than attempt, when a run
// snapshot opens it.
func keepJobsOf(st *castv1alpha1.CastStatus, attempt int64) {
	if len(st.Jobs) > 0 && st.Jobs[0].Attempt != attempt {
		st.Jobs, st.JobsOmitted = nil, 0
	}
}

// stepBudget is how many steps the job at index skip (-1 for a new job)
// may keep: what MaxStepsPerCast leaves after the others' steps.
func stepBudget(jobs []castv1alpha1.JobStatus, skip int) int {
	used := 0
	for i := range jobs {
		if i != skip {
			used += len(jobs[i].Steps)
		}
	}
	return max(0, castv1alpha1.MaxStepsPerCast-used)
}

func toJobStatus(j Job, attempt int64, budget int) castv1alpha1.JobStatus {
	out := castv1alpha1.JobStatus{
		ID: j.ID, Attempt: attempt, Name: cut(j.Name, maxNameLen),
		Status: cut(j.Status, maxWordLen), Conclusion: cut(j.Conclusion, maxWordLen),
		StartedAt: timeOrNil(j.StartedAt), CompletedAt: timeOrNil(j.CompletedAt),
		HTMLURL: cut(j.HTMLURL, maxURLLen),
	}
	for _, l := range j.Labels[:min(len(j.Labels), maxLabels)] {
		out.Labels = append(out.Labels, cut(l, maxLabelLen))
	}
	keep := min(len(j.Steps), castv1alpha1.MaxStepsPerJob, budget)
	for i, s := range j.Steps {
		switch s.Status {
		case "completed":
			out.StepsCompleted++
			out.StepsStarted++
		case "in_progress":
			out.StepsStarted++
		}
		if i < keep {
			out.Steps = append(out.Steps, castv1alpha1.StepStatus{Number: s.Number, Name: cut(s.Name, maxNameLen),
				Status: cut(s.Status, maxWordLen), Conclusion: cut(s.Conclusion, maxWordLen),
				StartedAt: timeOrNil(s.StartedAt), CompletedAt: timeOrNil(s.CompletedAt)})
		}
	}
	out.StepsOmitted = int32(len(j.Steps) - keep)
	return out
}

// jobRankOf is jobRank for a stored job, whose steps are counted even
// where the steps themselves were not kept. A job stored before
// StepsStarted existed has its started steps told by the kept ones.
func jobRankOf(j castv1alpha1.JobStatus) int {
	started := int(j.StepsStarted)
	if started == 0 {
		started = int(j.StepsCompleted)
		for _, s := range j.Steps {
			if s.Status == "in_progress" {
				started++
			}
		}
	}
	return jobRankFrom(j.Status, int(j.StepsCompleted), started)
}

// refreshProgress sets progress and message from the stored jobs while the
// run is going and the jobs are its current attempt's.
func refreshProgress(st *castv1alpha1.CastStatus) {
	if st.Phase.IsTerminal() || len(st.Jobs) == 0 || st.Jobs[0].Attempt != max(st.RunAttempt, 1) {
		return
	}
	p, msg := Progress(st.Jobs)
	if st.JobsOmitted > 0 {
		p = min(p, 99)
	}
	st.Progress, st.Message = max(p, st.Progress), msg
}

// Progress computes a run's progress from its jobs: each job weighs the
// same, and counts as the share of its steps completed (all of it once the
// job completed). It stays below 100 until every job completed, so 100 means
// done. message names the step running now, or how many jobs are done.
func Progress(jobs []castv1alpha1.JobStatus) (progress int32, message string) {
	if len(jobs) == 0 {
		return 0, ""
	}
	var sum float64
	done := 0
	for _, j := range jobs {
		if j.Status == "completed" {
			sum++
			done++
			continue
		}
		if total := len(j.Steps) + int(j.StepsOmitted); total > 0 {
			sum += float64(j.StepsCompleted) / float64(total)
		}
		if message == "" && j.Status == "in_progress" {
			message = currentStep(j)
		}
	}
	p := int32(math.Floor(100 * sum / float64(len(jobs))))
	if done < len(jobs) {
		p = min(p, 99)
	}
	if message == "" {
		message = fmt.Sprintf("%d of %d jobs done", done, len(jobs))
	}
	return p, message
}

func currentStep(j castv1alpha1.JobStatus) string {
	for _, s := range j.Steps {
		if s.Status == "in_progress" {
			return j.Name + ": " + s.Name
		}
	}
	return j.Name
}

// cut shortens s to at most n bytes, on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	k := n - len(ellipsis)
	for k > 0 && !utf8.RuneStart(s[k]) {
		k--
	}
	return s[:k] + ellipsis
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return ptrTime(t.UTC().Truncate(time.Second))
}
