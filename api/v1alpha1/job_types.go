package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Bounds on what status keeps of a run's jobs, so a large matrix cannot push
// a Cast towards etcd's object size limit (1.5 MiB by default). At the
// bounds a status holds at most MaxJobs job records and MaxStepsPerCast
// steps in all: about 1.2 MiB of JSON with every string at its longest
// (names, links, labels), a few hundred KiB with real ones.
const (
	// MaxJobs is above GitHub's own limit of 256 jobs a matrix can
	// generate in a workflow run, so it is reached only by runs with very
	// many jobs outside matrices.
	MaxJobs = 500
	// MaxStepsPerJob bounds the steps kept for one job; a job's
	// StepsOmitted counts the rest.
	MaxStepsPerJob = 50
	// MaxStepsPerCast bounds the steps kept for all jobs together, in job
	// ID order: jobs past it keep their counts but not their steps.
	MaxStepsPerCast = 1000
)

// JobStatus is one job of the run's current attempt, as GitHub's
// workflow_job webhooks and the jobs REST endpoint describe it. Status holds
// the jobs themselves, not only the progress derived from them, so any
// controller replica can merge the next job's news into what is stored,
// and a restarted controller loses nothing.
type JobStatus struct {
	// ID is GitHub's job ID.
	ID int64 `json:"id"`
	// Attempt is the run attempt the job belongs to.
	// +optional
	Attempt int64 `json:"attempt,omitempty"`
	// Name of the job, as GitHub shows it (matrix values included).
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Name string `json:"name,omitempty"`
	// Status is GitHub's job status: queued, waiting, in_progress or
	// completed.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Status string `json:"status,omitempty"`
	// Conclusion is set once the job completed: success, failure,
	// cancelled, skipped...
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Conclusion string `json:"conclusion,omitempty"`
	// Labels are the job's runs-on labels, which tell the runner's OS:
	// the first 8, each cut to 64 bytes, so 500 jobs' labels stay small.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=atomic
	// +optional
	Labels []string `json:"labels,omitempty"`
	// StartedAt is when a runner picked the job up.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// CompletedAt is when the job finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// HTMLURL links to the job's page and log on GitHub.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	HTMLURL string `json:"htmlURL,omitempty"`
	// StepsCompleted counts the job's completed steps, kept or not.
	// +optional
	StepsCompleted int32 `json:"stepsCompleted,omitempty"`
	// StepsStarted counts the job's steps that started (running or
	// completed), kept or not: with StepsCompleted it orders the job's
	// news, so a step starting reaches status and an older delivery
	// never undoes it.
	// +optional
	StepsStarted int32 `json:"stepsStarted,omitempty"`
	// StepsOmitted counts the job's steps not kept in Steps.
	// +optional
	StepsOmitted int32 `json:"stepsOmitted,omitempty"`
	// Steps of the job, in order, up to MaxStepsPerJob.
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	Steps []StepStatus `json:"steps,omitempty"`
}

// StepStatus is one step of a job.
type StepStatus struct {
	// Number is the step's position in its job, from 1.
	Number int64 `json:"number"`
	// Name of the step.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Name string `json:"name,omitempty"`
	// Status is queued, in_progress or completed.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Status string `json:"status,omitempty"`
	// Conclusion is set once the step completed.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Conclusion string `json:"conclusion,omitempty"`
	// StartedAt is when the step started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// CompletedAt is when the step finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}
