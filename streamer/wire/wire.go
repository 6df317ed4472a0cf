// Package wire is the streamer's contract with its clients: the SSE event
// types and the JSON of one Cast's state. The server (streamer, hub), the
// Go client and the CLI share it, and it depends on nothing but the Cast
// API, so a client links no informer machinery.
package wire

import (
	"time"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Kind is the SSE event type of an update. Clients switch on it.
type Kind string

// Event types, a contract with every client.
const (
	// KindStatus: something beyond how far the run got changed (phase,
	// run, outcome, cost, artifacts...).
	KindStatus Kind = "status"
	// KindProgress: only how far the run got changed: progress, message,
	// or its jobs and their steps.
	KindProgress Kind = "progress"
	// KindComplete: the Cast reached a terminal phase.
	KindComplete Kind = "complete"
	// KindDeleted: the Cast is gone.
	KindDeleted Kind = "deleted"
	// KindSynced: the initial state (or the resumed changes) is complete.
	KindSynced Kind = "synced"
)

// Snapshot is the JSON clients get for one state of a Cast: the data of
// every stream event and the body of the JSON endpoints.
type Snapshot struct {
	CastID     string                  `json:"castId"`
	Namespace  string                  `json:"namespace"`
	Name       string                  `json:"name"`
	Status     castv1alpha1.CastPhase  `json:"status"`
	Progress   int32                   `json:"progress"`
	Message    string                  `json:"message"`
	Repository string                  `json:"repository"`
	Workflow   string                  `json:"workflow"`
	RunID      int64                   `json:"runID"`
	RunAttempt int64                   `json:"runAttempt"`
	RunURL     string                  `json:"runURL"`
	Conclusion string                  `json:"conclusion"`
	StartedAt  *time.Time              `json:"startedAt"`
	FinishedAt *time.Time              `json:"finishedAt"`
	Duration   int64                   `json:"duration"`
	CostCents  int64                   `json:"costCents"`
	Artifacts  []castv1alpha1.Artifact `json:"artifacts"`
	Labels     map[string]string       `json:"labels,omitempty"`
	// Jobs of the current attempt, in job ID order; JobsOmitted counts
	// those past the Cast's bound. Both are absent before the first job
	// is known.
	Jobs        []Job `json:"jobs,omitempty"`
	JobsOmitted int32 `json:"jobsOmitted,omitempty"`
	// PreviousAttempts says how earlier attempts ended, oldest first.
	PreviousAttempts []Attempt `json:"previousAttempts,omitempty"`
	ResourceVersion  string    `json:"resourceVersion"`
	Timestamp        time.Time `json:"timestamp"`
}
