package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CastSpec says which workflow to run, where and with what. A Cast is one
// execution, so what it runs is fixed once the Cast is created; timeout,
// and the requests to act on the run (cancel, rerun), may change.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || (has(self.cancel) && (self.cancel == oldSelf.cancel || self.cancel.attempt > oldSelf.cancel.attempt))",message="spec.cancel cannot be removed or changed: to cancel a later attempt, set spec.cancel.attempt to it"
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || !has(self.rerun)",optionalOldSelf=true,message="spec.rerun cannot be set at creation: a new Cast has no finished attempt to re-run (leave it out when copying a spec)"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.rerun) || (has(self.rerun) && (self.rerun == oldSelf.rerun || self.rerun.afterAttempt > oldSelf.rerun.afterAttempt))",message="spec.rerun cannot be removed or changed: to re-run again, set spec.rerun.afterAttempt to the latest attempt"
// +kubebuilder:validation:XValidation:rule="self.repository == oldSelf.repository",message="spec.repository is immutable: a Cast is one execution, create a new Cast instead"
// +kubebuilder:validation:XValidation:rule="self.workflow == oldSelf.workflow",message="spec.workflow is immutable: a Cast is one execution, create a new Cast instead"
// +kubebuilder:validation:XValidation:rule="self.ref == oldSelf.ref",message="spec.ref is immutable: a Cast is one execution, create a new Cast instead"
// +kubebuilder:validation:XValidation:rule="has(self.inputs) == has(oldSelf.inputs) && (!has(self.inputs) || self.inputs == oldSelf.inputs)",message="spec.inputs is immutable: a Cast is one execution, create a new Cast instead"
// +kubebuilder:validation:XValidation:rule="has(self.runID) == has(oldSelf.runID) && (!has(self.runID) || self.runID == oldSelf.runID)",message="spec.runID is immutable: a Cast is one execution, create a new Cast instead"
// +kubebuilder:validation:XValidation:rule="has(self.credentialsSecretRef) == has(oldSelf.credentialsSecretRef) && (!has(self.credentialsSecretRef) || self.credentialsSecretRef == oldSelf.credentialsSecretRef)",message="spec.credentialsSecretRef is immutable: a Cast is one execution, create a new Cast instead"
type CastSpec struct {
	// Repository that owns the workflow, as "owner/repo" (for example
	// "spell-platform/spells").
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`
	// +kubebuilder:validation:MaxLength=140
	// +required
	Repository string `json:"repository"`

	// Workflow to run: its file name under .github/workflows (for example
	// "cast.yml") or its numeric ID.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^([0-9]+|[A-Za-z0-9_.-]+\.ya?ml)$`
	// +required
	Workflow string `json:"workflow"`

	// Ref is the branch or tag the workflow runs on. Defaults to "main".
	// +kubebuilder:default=main
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Ref string `json:"ref,omitempty"`

	// Inputs are passed to the workflow_dispatch event as strings, as GitHub
	// expects. At most 24 entries: GitHub takes 25, and the operator adds
	// "cast_id" (the Cast's UID, which the workflow should put in its
	// run-name) to find the run it dispatched. "cast_id" is reserved.
	// +kubebuilder:validation:MaxProperties=24
	// +kubebuilder:validation:XValidation:rule="!('cast_id' in self)",message="spec.inputs.cast_id is reserved: the operator sets it to the Cast's UID"
	// +optional
	Inputs map[string]string `json:"inputs,omitempty"`

	// RunID attaches this Cast to an existing workflow run instead of
	// dispatching a new one; the Cast then only tracks that run.
	// +kubebuilder:validation:Minimum=1
	// +optional
	RunID *int64 `json:"runID,omitempty"`

	// Timeout bounds how long the run may take (for example "30m"); past it
	// the Cast is marked TimedOut. It may change after creation.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// CredentialsSecretRef names a Secret in the Cast's namespace whose key
	// "token" holds the GitHub token used for this Cast instead of the
	// operator's own credentials.
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`

	// Cancel asks for the run to be cancelled while keeping the Cast; asked
	// before dispatch, nothing is dispatched. A new Cast copied from this
	// one's spec should leave it out.
	// +optional
	Cancel *CancelRequest `json:"cancel,omitempty"`

	// Rerun asks GitHub to run the run again, as a new attempt of the same
	// run. A new Cast copied from this one's spec should leave it out.
	// +optional
	Rerun *RerunRequest `json:"rerun,omitempty"`
}

// SecretReference points at a Secret in the Cast's own namespace, so a Cast
// can never read credentials from another namespace.
type SecretReference struct {
	// Name of the Secret. It must hold the GitHub token under the key "token".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// CastPhase is the coarse lifecycle state of a Cast, the one column users
// watch in `kubectl get casts`.
// +kubebuilder:validation:Enum=Pending;Queued;Running;Succeeded;Failed;Cancelled;TimedOut
type CastPhase string

// Phases a Cast moves through. Succeeded, Failed, Cancelled and TimedOut are
// terminal: only a re-run (a higher run attempt) leaves them.
const (
	PhasePending   CastPhase = "Pending"
	PhaseQueued    CastPhase = "Queued"
	PhaseRunning   CastPhase = "Running"
	PhaseSucceeded CastPhase = "Succeeded"
	PhaseFailed    CastPhase = "Failed"
	PhaseCancelled CastPhase = "Cancelled"
	PhaseTimedOut  CastPhase = "TimedOut"
)

// IsTerminal reports whether the run behind the Cast has finished, which is
// when streams send their final event and clients may stop waiting.
func (p CastPhase) IsTerminal() bool {
	switch p {
	case PhaseSucceeded, PhaseFailed, PhaseCancelled, PhaseTimedOut:
		return true
	}
	return false
}

// Artifact is one file uploaded by the workflow run.
type Artifact struct {
	// Name of the artifact as uploaded by the workflow.
	Name string `json:"name"`
	// SizeBytes is the artifact's size in bytes.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`
	// URL where the artifact can be downloaded.
	// +optional
	URL string `json:"url,omitempty"`
}

// CastStatus is the observed state of the workflow run, written only by the
// controller.
type CastStatus struct {
	// Phase is the lifecycle state of the run.
	// +optional
	Phase CastPhase `json:"phase,omitempty"`

	// Progress is the share of the run's work done, 0 to 100.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Progress int32 `json:"progress"`

	// Message is a human-readable note on the current step or outcome.
	// +optional
	Message string `json:"message,omitempty"`

	// RunID is the GitHub workflow run this Cast tracks.
	// +optional
	RunID int64 `json:"runID,omitempty"`

	// RunAttempt is the attempt number of the run; a re-run increments it.
	// +optional
	RunAttempt int64 `json:"runAttempt,omitempty"`

	// RunURL links to the run on GitHub.
	// +optional
	RunURL string `json:"runURL,omitempty"`

	// Conclusion is GitHub's raw conclusion for the run (for example
	// "success", "failure", "neutral"), kept because Phase folds several
	// conclusions together.
	// +optional
	Conclusion string `json:"conclusion,omitempty"`

	// StartedAt is when the run started executing.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// FinishedAt is when the run reached a terminal phase.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`

	// DurationMillis is the run's wall-clock duration in milliseconds.
	// +optional
	DurationMillis int64 `json:"durationMillis,omitempty"`

	// CostCents is the run's estimated cost in US cents.
	// +optional
	CostCents int64 `json:"costCents,omitempty"`

	// Artifacts uploaded by the run.
	// +listType=atomic
	// +optional
	Artifacts []Artifact `json:"artifacts,omitempty"`

	// LastEventAt is when the last GitHub event for this run was applied.
	// +optional
	LastEventAt *metav1.Time `json:"lastEventAt,omitempty"`

	// Jobs of the run's current attempt (a later attempt's, once one of its
	// jobs has been seen), in job ID order, up to MaxJobs.
	// +kubebuilder:validation:MaxItems=500
	// +listType=map
	// +listMapKey=id
	// +optional
	Jobs []JobStatus `json:"jobs,omitempty"`

	// JobsOmitted counts the jobs past MaxJobs, which status does not keep:
	// exact once the jobs were listed from the REST API (at a resync), at
	// least 1 while only webhooks told of them.
	// +optional
	JobsOmitted int32 `json:"jobsOmitted,omitempty"`

	// Cancel records what the controller did with spec.cancel: who asked,
	// when it saw the request, and the result.
	// +optional
	Cancel *CancelStatus `json:"cancel,omitempty"`

	// Rerun records where spec.rerun stands.
	// +optional
	Rerun *RerunStatus `json:"rerun,omitempty"`

	// PreviousAttempts keeps how earlier attempts of the run ended, oldest
	// first, up to MaxPreviousAttempts: a re-run starts the top-level
	// fields afresh for the new attempt.
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	PreviousAttempts []AttemptOutcome `json:"previousAttempts,omitempty"`

	// ObservedGeneration is the spec generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are the standard Kubernetes conditions: Dispatched, Running
	// and Complete.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Cast is one execution of a spell: a GitHub Actions workflow run, dispatched
// by the operator or attached to by run ID, with its live status.
//
// Requests checked against status when they are made, so a user learns at
// once what the controller would only report later; the controller checks
// again, as status may have moved meanwhile.
//
// +kubebuilder:validation:XValidation:rule="!has(self.spec.cancel) || (has(oldSelf.spec.cancel) && self.spec.cancel == oldSelf.spec.cancel) || !has(self.status) || !has(self.status.phase) || !(self.status.phase in ['Succeeded','Failed','Cancelled','TimedOut']) || self.spec.cancel.attempt > (has(self.status.runAttempt) ? self.status.runAttempt : 1)",message="the Cast already finished: there is nothing to cancel",messageExpression="'the Cast already finished as ' + self.status.phase + ': there is nothing to cancel'"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.rerun) || (has(oldSelf.spec.rerun) && self.spec.rerun == oldSelf.spec.rerun) || (has(self.status) && has(self.status.phase) && self.status.phase in ['Succeeded','Failed','Cancelled','TimedOut'])",message="only a finished run can be re-run: cancel it first, or wait for it to finish"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.rerun) || (has(oldSelf.spec.rerun) && self.spec.rerun == oldSelf.spec.rerun) || (has(self.status) && has(self.status.runID))",message="the Cast has no workflow run to re-run: create a new Cast from its spec instead"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.rerun) || (has(oldSelf.spec.rerun) && self.spec.rerun == oldSelf.spec.rerun) || !has(self.status) || !has(self.status.runAttempt) || self.spec.rerun.afterAttempt == self.status.runAttempt",message="spec.rerun.afterAttempt must be the latest attempt of the run, status.runAttempt"
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories={spell,all},shortName=cst
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.spec.repository`
// +kubebuilder:printcolumn:name="Workflow",type=string,JSONPath=`.spec.workflow`
// +kubebuilder:printcolumn:name="Run",type=integer,JSONPath=`.status.runID`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Duration(ms)",type=integer,JSONPath=`.status.durationMillis`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
type Cast struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the user asked to run.
	// +required
	Spec CastSpec `json:"spec"`

	// Status is what GitHub says about the run.
	// +optional
	Status CastStatus `json:"status,omitempty"`
}

// CastList is a list of Casts.
//
// +kubebuilder:object:root=true
type CastList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cast `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Cast{}, &CastList{})
}
