package v1alpha1

// Condition types on a Cast. Tools such as `kubectl wait
// --for=condition=Complete` rely on these names.
const (
	// ConditionDispatched is True once the Cast is bound to a workflow run,
	// dispatched by the operator or attached by spec.runID.
	ConditionDispatched = "Dispatched"
	// ConditionRunning is True while the run is executing on GitHub.
	ConditionRunning = "Running"
	// ConditionComplete is True once the run reached a terminal phase; its
	// reason says which.
	ConditionComplete = "Complete"
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
)

// Reasons for the Running condition.
const (
	// ReasonQueued: the run waits for a runner.
	ReasonQueued = "Queued"
	// ReasonInProgress: the run is executing.
	ReasonInProgress = "InProgress"
	// ReasonFinished: the run stopped executing; see Complete for the outcome.
	ReasonFinished = "Finished"
)

// Reasons for the Complete condition, one per terminal phase plus the
// not-yet-complete reason.
const (
	ReasonNotComplete = "NotComplete"
	ReasonSucceeded   = "Succeeded"
	ReasonFailed      = "Failed"
	ReasonCancelled   = "Cancelled"
	ReasonTimedOut    = "TimedOut"
)
