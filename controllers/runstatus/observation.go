// Package runstatus turns observations of a GitHub Actions workflow run,
// from webhooks or the REST API, into Cast status. Its functions are pure:
// the same status and observation always give the same result, whatever
// order GitHub delivered events in.
package runstatus

import "time"

// Run is one snapshot of a workflow run, as GitHub's workflow_run webhook
// payload and GET /repos/{owner}/{repo}/actions/runs/{id} both describe it.
// Its JSON form is what the webhook journal stores, so field names are
// fixed.
type Run struct {
	ID         int64  `json:"id"`
	Attempt    int64  `json:"attempt,omitempty"`
	Repository string `json:"repository,omitempty"` // owner/repo
	// Status is GitHub's run status: requested, queued, pending, waiting,
	// in_progress or completed.
	Status string `json:"status,omitempty"`
	// Conclusion is set once Status is completed: success, failure,
	// cancelled, timed_out, skipped, neutral, stale, action_required,
	// startup_failure.
	Conclusion string    `json:"conclusion,omitempty"`
	HTMLURL    string    `json:"htmlURL,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"` // run_started_at
	UpdatedAt  time.Time `json:"updatedAt,omitzero"` // updated_at: orders events of equal rank
}

// Job is one snapshot of a job of a run, as the workflow_job webhook and the
// jobs REST endpoint describe it.
type Job struct {
	ID          int64     `json:"id"`
	RunID       int64     `json:"runID,omitempty"`
	Attempt     int64     `json:"attempt,omitempty"`
	Name        string    `json:"name,omitempty"`
	Status      string    `json:"status,omitempty"` // queued, in_progress, completed, waiting
	Conclusion  string    `json:"conclusion,omitempty"`
	Labels      []string  `json:"labels,omitempty"` // runs-on labels; they name the runner OS for cost
	StartedAt   time.Time `json:"startedAt,omitzero"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	Steps       []Step    `json:"steps,omitempty"`
	HTMLURL     string    `json:"htmlURL,omitempty"` // the job's page and log on GitHub
}

// Step is one step of a job.
type Step struct {
	Number      int64     `json:"number"`
	Name        string    `json:"name,omitempty"`
	Status      string    `json:"status,omitempty"` // queued, in_progress or completed
	Conclusion  string    `json:"conclusion,omitempty"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
}

// Observation is one piece of news about a run: a run snapshot or a job
// snapshot. The webhook receiver stores these in the journal, and the
// reconciler alone merges them into status.
type Observation struct {
	Run *Run `json:"run,omitempty"`
	Job *Job `json:"job,omitempty"`
}
