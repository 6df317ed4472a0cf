package runstatus

import (
	"fmt"
	"math"
	"sort"
	"strings"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// jobRank orders a job's snapshots: a job only moves forward.
func jobRank(j Job) int {
	done := 0
	for _, s := range j.Steps {
		if s.Status == "completed" {
			done++
		}
	}
	base := 0
	switch j.Status {
	case "in_progress":
		base = 1
	case "completed":
		base = 2
	}
	return base<<16 | done
}

// Newer reports whether b is a later snapshot of the same job than a, so a
// late-arriving older webhook never rolls a job back.
func Newer(a, b Job) bool {
	if b.Attempt != a.Attempt {
		return b.Attempt > a.Attempt
	}
	return jobRank(b) > jobRank(a)
}

// Progress computes a run's progress from its jobs: each job weighs the
// same, and counts as the share of its steps completed (all of it once the
// job completed). It stays below 100 until every job completed, so 100 means
// done. message names the step running now, or how many jobs are done.
func Progress(jobs []Job) (progress int32, message string) {
	if len(jobs) == 0 {
		return 0, ""
	}
	sorted := append([]Job(nil), jobs...)
	sort.Slice(sorted, func(i, k int) bool { return sorted[i].ID < sorted[k].ID })
	var sum float64
	done := 0
	for _, j := range sorted {
		if j.Status == "completed" {
			sum++
			done++
			continue
		}
		if len(j.Steps) > 0 {
			finished := 0
			for _, s := range j.Steps {
				if s.Status == "completed" {
					finished++
				}
			}
			sum += float64(finished) / float64(len(j.Steps))
		}
		if message == "" && j.Status == "in_progress" {
			message = currentStep(j)
		}
	}
	p := int32(math.Floor(100 * sum / float64(len(sorted))))
	if done < len(sorted) {
		p = min(p, 99)
	}
	if message == "" {
		message = fmt.Sprintf("%d of %d jobs done", done, len(sorted))
	}
	return p, message
}

func currentStep(j Job) string {
	for _, s := range j.Steps {
		if s.Status == "in_progress" {
			return j.Name + ": " + s.Name
		}
	}
	return j.Name
}

// ApplyJobs merges the jobs known for the cast's current attempt into
// progress and message. It never changes the phase, ignores jobs of other
// attempts, leaves a finished cast alone, and never lowers progress within
// an attempt. It reports whether st changed.
func ApplyJobs(st *castv1alpha1.CastStatus, jobs []Job) bool {
	if st.Phase.IsTerminal() {
		return false
	}
	attempt := max(st.RunAttempt, 1)
	var current []Job
	for _, j := range jobs {
		if max(j.Attempt, 1) == attempt && (st.RunID == 0 || j.RunID == 0 || j.RunID == st.RunID) {
			current = append(current, j)
		}
	}
	if len(current) == 0 {
		return false
	}
	p, msg := Progress(current)
	p = max(p, st.Progress)
	if p == st.Progress && msg == st.Message {
		return false
	}
	st.Progress, st.Message = p, msg
	return true
}

// Rates are cents per billable minute by runner class ("linux", "windows",
// "macos", "self-hosted"); a class without a rate costs nothing.
type Rates map[string]float64

// DefaultRates are GitHub's list prices for standard hosted runners, in
// cents per minute; operators with other plans set their own by flag.
var DefaultRates = Rates{"linux": 0.8, "windows": 1.6, "macos": 8}

// CostCents prices finished jobs as GitHub bills them: each job's duration
// rounded up to a whole minute, times its runner OS's rate; the total is
// rounded up to a whole cent.
func CostCents(jobs []Job, rates Rates) int64 {
	var cents float64
	for _, j := range jobs {
		if j.StartedAt.IsZero() || j.CompletedAt.Before(j.StartedAt) {
			continue
		}
		minutes := math.Ceil(j.CompletedAt.Sub(j.StartedAt).Minutes())
		cents += minutes * rates[RunnerOS(j.Labels)]
	}
	return int64(math.Ceil(cents - 1e-9))
}

// RunnerOS tells the billing class from a job's runs-on labels:
// "self-hosted" (which GitHub does not bill, so it has no default rate),
// "windows", "macos", or "linux" for everything else.
func RunnerOS(labels []string) string {
	for _, l := range labels {
		if strings.EqualFold(l, "self-hosted") {
			return "self-hosted"
		}
	}
	for _, l := range labels {
		l = strings.ToLower(l)
		switch {
		case strings.HasPrefix(l, "windows"):
			return "windows"
		case strings.HasPrefix(l, "macos"):
			return "macos"
		}
	}
	return "linux"
}
