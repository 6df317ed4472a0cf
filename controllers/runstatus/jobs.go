package runstatus

import (
	"math"
	"strings"
)

// jobRank orders a job's snapshots: a job only moves forward.
func jobRank(j Job) int {
	done := 0
	for _, s := range j.Steps {
		if s.Status == "completed" {
			done++
		}
	}
	return statusRank(j.Status)<<16 | done
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
