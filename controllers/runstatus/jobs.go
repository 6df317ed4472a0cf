package runstatus

import (
	"math"
	"strings"
)

// jobRank orders a job's snapshots: a job only moves forward, through its
// status, then its steps completing, then its steps starting, so a step
// that starts reaches status while an older delivery never undoes it.
func jobRank(j Job) int {
	completed, started := 0, 0
	for _, s := range j.Steps {
		switch s.Status {
		case "completed":
			completed++
			started++
		case "in_progress":
			started++
		}
	}
	return jobRankFrom(j.Status, completed, started)
}

// Supersedes reports whether snapshot next of a job is news over held,
// one heard earlier: a later attempt, or the same attempt no further
// behind. Whoever keeps only one snapshot per job between merges keeps
// next only then, or it would lose the newer news to a late delivery.
func Supersedes(next, held Job) bool {
	na, ha := max(next.Attempt, 1), max(held.Attempt, 1)
	if na != ha {
		return na > ha
	}
	return jobRank(next) >= jobRank(held)
}

// stepCountBits is how many bits of a rank each step count gets; counts
// past it are clamped, and GitHub stops far earlier.
const stepCountBits = 10

func jobRankFrom(status string, completed, started int) int {
	const most = 1<<stepCountBits - 1
	return statusRank(status)<<(2*stepCountBits) | min(completed, most)<<stepCountBits | min(started, most)
}

func statusRank(status string) int {
	switch status {
	case "in_progress":
		return 1
	case "completed":
		return 2
	}
	return 0
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
