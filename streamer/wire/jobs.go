package wire

import "time"

// Job is the stream's compact form of one job of the Cast's current
// attempt: what a timeline draws, without the counters only the
// controller needs. Old clients ignore it.
type Job struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Conclusion  string     `json:"conclusion,omitempty"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	// URL is the job's page on GitHub, where its log is.
	URL string `json:"url,omitempty"`
	// Labels are the job's runs-on labels, which name its runner.
	Labels []string `json:"labels,omitempty"`
	Steps  []Step   `json:"steps,omitempty"`
	// StepsOmitted counts the steps the Cast's status did not keep.
	StepsOmitted int32 `json:"stepsOmitted,omitempty"`
}

// Step is one step of a Job.
type Step struct {
	Number      int64      `json:"number"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Conclusion  string     `json:"conclusion,omitempty"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// Attempt is how an earlier attempt of the run ended, shown after a
// re-run.
type Attempt struct {
	Attempt    int64      `json:"attempt"`
	Phase      string     `json:"phase"`
	Conclusion string     `json:"conclusion,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	URL        string     `json:"url,omitempty"`
}
