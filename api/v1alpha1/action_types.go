package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CancelRequest asks the controller to cancel one attempt of the Cast's run
// and keep the Cast, its record, instead of deleting it. It names the
// attempt so a request made for attempt 1 never cancels a later re-run:
// cancelling a re-run is a new request naming the new attempt.
type CancelRequest struct {
	// RequestedBy is the Kubernetes user asking, as the API server knows
	// them (request.userInfo.username). Where the operator's
	// ValidatingAdmissionPolicy (config/policy) is installed, the API server
	// refuses any other value, so the name is verified; without it, it is
	// the client's claim.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	RequestedBy string `json:"requestedBy"`

	// Attempt is the run attempt to cancel: 1 for the first run, N for the
	// attempt a re-run started. Defaults to 1.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +optional
	Attempt int64 `json:"attempt,omitempty"`
}

// RerunRequest asks GitHub to run the Cast's run again as a new attempt of
// the same run, once attempt AfterAttempt finished. The attempt number
// makes the request idempotent: the controller calls GitHub only while
// GitHub's run is still at AfterAttempt, so a request is carried out at
// most once, across restarts too. Re-running again is a new request with a
// higher AfterAttempt.
type RerunRequest struct {
	// RequestedBy is the Kubernetes user asking, verified as for
	// CancelRequest.RequestedBy.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	RequestedBy string `json:"requestedBy"`

	// AfterAttempt is the finished attempt to re-run: status.runAttempt
	// when the request is made.
	// +kubebuilder:validation:Minimum=1
	// +required
	AfterAttempt int64 `json:"afterAttempt"`

	// FailedOnly re-runs only the failed jobs (and the jobs that depend on
	// them), as GitHub's "Re-run failed jobs"; otherwise every job runs
	// again, as "Re-run all jobs".
	// +optional
	FailedOnly bool `json:"failedOnly,omitempty"`
}

// CancelResult is what became of a cancel request.
// +kubebuilder:validation:Enum=Cancelled;AlreadyFinished;Failed
type CancelResult string

// Results of a cancel request.
const (
	// CancelResultCancelled: the run was cancelled on GitHub (or, asked
	// before dispatch, never dispatched); the Cast is Cancelled.
	CancelResultCancelled CancelResult = "Cancelled"
	// CancelResultAlreadyFinished: the attempt had finished; nothing was
	// sent to GitHub.
	CancelResultAlreadyFinished CancelResult = "AlreadyFinished"
	// CancelResultFailed: GitHub refused the cancel for good (a credential
	// without Actions: write, for example); the run may still be going.
	CancelResultFailed CancelResult = "Failed"
)

// CancelStatus records the controller's handling of spec.cancel.
type CancelStatus struct {
	// Attempt is the attempt the request named.
	Attempt int64 `json:"attempt"`
	// RequestedBy is spec.cancel.requestedBy.
	RequestedBy string `json:"requestedBy"`
	// RequestedAt is when the controller carried the request out (within
	// a moment of it being made while the controller runs; later after a
	// GitHub outage): the API server keeps no trustworthy time of a spec
	// change, and a time the client wrote would be its claim.
	RequestedAt metav1.Time `json:"requestedAt"`
	// Result is what became of the request.
	Result CancelResult `json:"result"`
	// Message says it in words.
	// +optional
	Message string `json:"message,omitempty"`
}

// RerunState is where a re-run request stands.
// +kubebuilder:validation:Enum=Waiting;Rerunning;Requested;Refused
type RerunState string

// States of a re-run request.
const (
	// RerunWaiting: attempt AfterAttempt has not finished (or is not known
	// yet); the controller re-runs it once it has.
	RerunWaiting RerunState = "Waiting"
	// RerunRerunning: the request is recorded and GitHub is being asked;
	// a controller that finds this state reads the run before asking, so
	// a crash never asks twice.
	RerunRerunning RerunState = "Rerunning"
	// RerunRequested: GitHub accepted (or the run already shows a later
	// attempt); status follows the new attempt.
	RerunRequested RerunState = "Requested"
	// RerunRefused: GitHub or the controller refused the request for good,
	// for example a run created over a month ago; Message says why.
	RerunRefused RerunState = "Refused"
)

// RerunStatus records the controller's handling of spec.rerun.
type RerunStatus struct {
	// AfterAttempt is the attempt the request named.
	AfterAttempt int64 `json:"afterAttempt"`
	// FailedOnly is the request's.
	// +optional
	FailedOnly bool `json:"failedOnly,omitempty"`
	// RequestedBy is spec.rerun.requestedBy.
	RequestedBy string `json:"requestedBy"`
	// State is where the request stands.
	State RerunState `json:"state"`
	// LastTransitionTime is when State last changed.
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
	// Message says it in words.
	// +optional
	Message string `json:"message,omitempty"`
}

// MaxPreviousAttempts bounds status.previousAttempts: the oldest are
// dropped first.
const MaxPreviousAttempts = 10

// AttemptOutcome is how an earlier attempt of the run ended, kept when a
// re-run starts the next one.
type AttemptOutcome struct {
	// Attempt is the attempt's number.
	Attempt int64 `json:"attempt"`
	// Phase is the phase the attempt ended in (or had reached, if the next
	// attempt was seen before its end).
	Phase CastPhase `json:"phase"`
	// Conclusion is GitHub's raw conclusion of the attempt.
	// +optional
	Conclusion string `json:"conclusion,omitempty"`
	// StartedAt is when the attempt started executing.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when the attempt finished.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// CostCents is the attempt's estimated cost.
	// +optional
	CostCents int64 `json:"costCents,omitempty"`
	// URL links to the attempt on GitHub.
	// +optional
	URL string `json:"url,omitempty"`
}
