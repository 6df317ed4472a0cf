package wire

// ActionHeader must accompany every POST that acts on a Cast, with the
// value ActionHeaderValue. A cross-site form or image cannot set a custom
// header, and a cross-origin script that tries needs a CORS preflight the
// streamer refuses for any origin it does not allow, so a browser's session
// cookie alone can never make a change (CSRF). Clients that send a bearer
// token send it too: one rule for everyone.
const (
	ActionHeader      = "X-Cast-Action"
	ActionHeaderValue = "1"
)

// Action is what a user can do to a Cast from the streamer.
type Action string

// The actions, named as in the paths (POST .../casts/{name}/cancel and
// .../rerun) and the audit log.
const (
	ActionCancel      Action = "cancel"
	ActionRerun       Action = "rerun"
	ActionRerunFailed Action = "rerunFailed"
)

// Permission says whether the signed-in user may do one action now, and if
// not, why, in words a person can act on.
type Permission struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
}

// Actions is the answer of GET .../casts/{name}/actions: what the caller
// may do to the Cast as it stands. It is a hint for showing buttons; the
// API server still decides when the action is carried out.
type Actions struct {
	Cancel      Permission `json:"cancel"`
	Rerun       Permission `json:"rerun"`
	RerunFailed Permission `json:"rerunFailed"`
	// User is who the streamer would act as: the caller's own name.
	User string `json:"user"`
}

// RerunRequest is the body of POST .../casts/{name}/rerun.
type RerunRequest struct {
	// FailedOnly re-runs only the failed jobs, as GitHub's "Re-run failed
	// jobs".
	FailedOnly bool `json:"failedOnly"`
}

// ActionResult answers a POST that the API server accepted: the request
// now stands in the Cast's spec, and its outcome arrives through the
// stream as any status change does.
type ActionResult struct {
	Action      Action `json:"action"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	RequestedBy string `json:"requestedBy"`
	// Attempt is the run attempt the request names: the one to cancel,
	// or the finished one to re-run.
	Attempt int64 `json:"attempt"`
}

// Error is the JSON body of a refused action: Message says it in words
// (for example the API server's validation message); Reason is a short
// machine-readable cause such as "Forbidden", "Invalid", "NotFound".
type Error struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}
