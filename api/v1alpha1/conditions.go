package v1alpha1

import "k8s.io/apimachinery/pkg/api/meta"

// Condition types on a Cast. Tools rely on these names: `kubectl wait
// --for=condition=Complete` waits for success and `--for=condition=Failed`
// for failure, as for a Job; kstatus (and so Flux health checks and
// `kubectl apply --wait` style tools) reads Reconciling and Stalled.
const (
	// ConditionDispatched is True once the Cast is bound to a workflow run,
	// dispatched by the operator or attached by spec.runID.
	ConditionDispatched = "Dispatched"
	// ConditionRunning is True while the run is executing on GitHub.
	ConditionRunning = "Running"
	// ConditionComplete is True once the run succeeded and its artifacts and
	// cost are in, as a Job's Complete; it stays False for any other ending,
	// so waiting for it never reports a failed run as done.
	ConditionComplete = "Complete"
	// ConditionFailed is True once the run ended without success (Failed,
	// Cancelled or TimedOut, the reason says which), as a Job's Failed.
	ConditionFailed = "Failed"
	// ConditionReconciling is True while the Cast is not yet concluded:
	// kstatus reads it as InProgress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True once the Cast failed for good: kstatus reads
	// it as Failed, so a Flux health check or a deploy tool waiting for the
	// Cast stops with an error instead of waiting for ever.
	ConditionStalled = "Stalled"
	// ConditionGitHubAccess is False while the operator cannot reach GitHub
	// for this Cast as it should: its credentials are missing or unusable,
	// or their rate-limit budget delays the Cast's news. It is absent, or
	// True once that clears, when all is well.
	ConditionGitHubAccess = "GitHubAccess"
)

// Reasons for the GitHubAccess condition.
const (
	// ReasonCredentialsInvalid: a token or App key GitHub refuses, or a
	// malformed one (ReasonCredentialsMissing is shared with Dispatched).
	ReasonCredentialsInvalid = "CredentialsInvalid"
	// ReasonAppNotInstalled: the GitHub App has no installation on the
	// repository's owner, or not for this repository.
	ReasonAppNotInstalled = "AppNotInstalled"
	// ReasonPermissionDenied: the App lacks Actions: write, which dispatch
	// and cancel need.
	ReasonPermissionDenied = "PermissionDenied"
	// ReasonBudgetLow: the credential's rate-limit budget is short, so
	// resyncs are stretched until it resets; webhooks still apply.
	ReasonBudgetLow = "BudgetLow"
	// ReasonAccessRestored: a problem reported before has cleared.
	ReasonAccessRestored = "AccessRestored"
)

// Reasons for the Dispatched condition.
const (
	// ReasonDispatchPending: the operator has not yet bound the Cast to a run.
	ReasonDispatchPending = "DispatchPending"
	// ReasonDispatched: the operator dispatched the workflow and found its run.
	ReasonDispatched = "Dispatched"
	// ReasonAttached: spec.runID named an existing run; nothing was dispatched.
	ReasonAttached = "Attached"
	// ReasonCredentialsMissing: dispatch needs a GitHub token and none is set.
	ReasonCredentialsMissing = "CredentialsMissing"
	// ReasonDispatchFailed: GitHub refused the dispatch.
	ReasonDispatchFailed = "DispatchFailed"
	// ReasonCancelledBeforeDispatch: spec.cancel came before the dispatch;
	// nothing was dispatched.
	ReasonCancelledBeforeDispatch = "CancelledBeforeDispatch"
)

// Reasons for the Running and Reconciling conditions.
const (
	// ReasonPending: no run has been seen yet (dispatch pending, or an
	// attached run's first event has not come).
	ReasonPending = "Pending"
	// ReasonQueued: the run waits for a runner.
	ReasonQueued = "Queued"
	// ReasonInProgress: the run is executing.
	ReasonInProgress = "InProgress"
	// ReasonFinished: the run stopped executing; see Complete for the outcome.
	ReasonFinished = "Finished"
	// ReasonCollectingResults: the run finished and the operator is reading
	// its artifacts and cost before it concludes the Cast.
	ReasonCollectingResults = "CollectingResults"
)

// Reasons for the Complete, Failed, Reconciling and Stalled conditions once
// the Cast is concluded, one per terminal phase, plus the not-yet reason.
const (
	ReasonNotComplete = "NotComplete"
	ReasonSucceeded   = "Succeeded"
	ReasonFailed      = "Failed"
	ReasonCancelled   = "Cancelled"
	ReasonTimedOut    = "TimedOut"
)

// Event reasons the controller records on a Cast, so alerting on
// `kubectl get events --field-selector reason=...` keeps working. Failed,
// Cancelled and TimedOut events use the terminal phase's Reason* above;
// access problems use the GitHubAccess reasons.
const (
	EventReasonDispatched   = "Dispatched"
	EventReasonAttached     = "Attached"
	EventReasonStarted      = "Started"
	EventReasonSucceeded    = "Succeeded"
	EventReasonCancelFailed = "CancelFailed"
	// EventReasonCancelIgnored (Warning): spec.cancel named an attempt
	// that had already finished; GitHub was not called.
	EventReasonCancelIgnored = "CancelIgnored"
	// EventReasonRerun (Normal): GitHub accepted a spec.rerun request.
	EventReasonRerun = "Rerun"
	// EventReasonRerunRefused (Warning): a spec.rerun request will not be
	// carried out (GitHub refused it, or there is no run to re-run).
	EventReasonRerunRefused = "RerunRefused"
)

// OutcomeReason is the condition and Event reason for a terminal phase.
func OutcomeReason(p CastPhase) string {
	switch p {
	case PhaseSucceeded:
		return ReasonSucceeded
	case PhaseFailed:
		return ReasonFailed
	case PhaseCancelled:
		return ReasonCancelled
	case PhaseTimedOut:
		return ReasonTimedOut
	}
	return ReasonNotComplete
}

// Concluded reports whether the controller is done with the Cast: its run
// ended and the outcome is recorded as Complete or Failed.
func (s *CastStatus) Concluded() bool {
	return meta.IsStatusConditionTrue(s.Conditions, ConditionComplete) || meta.IsStatusConditionTrue(s.Conditions, ConditionFailed)
}
