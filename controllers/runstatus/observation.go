// Package runstatus turns observations of a GitHub Actions workflow run,
// from webhooks or the REST API, into Cast status. Its functions are pure:
// the same status and observation always give the same result, whatever
// order GitHub delivered events in.
package runstatus

import "time"

// Run is one snapshot of a workflow run, as GitHub's workflow_run webhook
// payload and GET /repos/{owner}/{repo}/actions/runs/{id} both describe it.
type Run struct {
	ID         int64
	Attempt    int64
	Repository string // owner/repo
	// Status is GitHub's run status: requested, queued, pending, waiting,
	// in_progress or completed.
	Status string
	// Conclusion is set once Status is completed: success, failure,
	// cancelled, timed_out, skipped, neutral, stale, action_required,
	// startup_failure.
	Conclusion   string
	HTMLURL      string
	DisplayTitle string
	StartedAt    time.Time // run_started_at
	UpdatedAt    time.Time // updated_at: orders events of equal rank
}

// Job is one snapshot of a job of a run, as the workflow_job webhook and the
// jobs REST endpoint describe it.
type Job struct {
	ID          int64
	RunID       int64
	Attempt     int64
	Name        string
	Status      string // queued, in_progress, completed, waiting
	Conclusion  string
	Labels      []string // runs-on labels; they name the runner OS for cost
	StartedAt   time.Time
	CompletedAt time.Time
	Steps       []Step
}

// Step is one step of a job.
type Step struct {
	Number     int64
	Name       string
	Status     string
	Conclusion string
}

// Observation is one piece of news about a run: a run snapshot or a job
// snapshot. The webhook receiver hands these to the reconciler, which alone
// merges them into status.
type Observation struct {
	Run *Run
	Job *Job
}
