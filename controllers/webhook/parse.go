package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// Event types the receiver understands, as GitHub names them in X-GitHub-Event.
const (
	EventPing        = "ping"
	EventWorkflowRun = "workflow_run"
	EventWorkflowJob = "workflow_job"
)

// ErrIgnored marks a well-formed payload that carries no news for a Cast:
// an event type or action the receiver does not act on. The handler answers
// these with 2xx so GitHub does not report the hook as failing.
var ErrIgnored = errors.New("ignored")

// Event is what Parse extracts from a payload. It exists because a
// workflow_job observation alone does not say which repository it belongs
// to, and the Index needs the repository together with the run ID to find
// the Casts that track the run.
type Event struct {
	// Type is the X-GitHub-Event value the payload was parsed as.
	Type string
	// Action is the payload's action, e.g. completed.
	Action string
	// Repository is the top-level repository.full_name (owner/repo).
	Repository string
	// RunID is the workflow run the observation is about; it is the
	// run's own id for workflow_run and run_id for workflow_job.
	RunID int64
	// Observation holds exactly one of Run and Job.
	Observation runstatus.Observation
}

// Actions that carry run or job news. GitHub may add actions; anything
// else is ignored rather than rejected so a new action never fails the hook.
var (
	runActions = map[string]bool{"requested": true, "in_progress": true, "completed": true}
	jobActions = map[string]bool{"queued": true, "in_progress": true, "completed": true, "waiting": true}
)

// The structs below name only the fields the receiver uses; encoding/json
// skips the rest, which keeps the receiver indifferent to payload growth.

type envelope struct {
	Action      string          `json:"action"`
	Repository  *repository     `json:"repository"`
	WorkflowRun json.RawMessage `json:"workflow_run"`
	WorkflowJob json.RawMessage `json:"workflow_job"`
}

type repository struct {
	FullName string `json:"full_name"`
}

type workflowRun struct {
	ID           int64       `json:"id"`
	RunAttempt   int64       `json:"run_attempt"`
	Status       string      `json:"status"`
	Conclusion   string      `json:"conclusion"`
	HTMLURL      string      `json:"html_url"`
	RunStartedAt string      `json:"run_started_at"`
	UpdatedAt    string      `json:"updated_at"`
	Repository   *repository `json:"repository"`
}

type workflowJob struct {
	ID          int64          `json:"id"`
	RunID       int64          `json:"run_id"`
	RunAttempt  int64          `json:"run_attempt"`
	Name        string         `json:"name"`
	Status      string         `json:"status"`
	Conclusion  string         `json:"conclusion"`
	Labels      []string       `json:"labels"`
	HTMLURL     string         `json:"html_url"`
	StartedAt   string         `json:"started_at"`
	CompletedAt string         `json:"completed_at"`
	Steps       []workflowStep `json:"steps"`
}

type workflowStep struct {
	Number      int64  `json:"number"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	Conclusion  string `json:"conclusion"`
	StartedAt   string `json:"started_at"`
	CompletedAt string `json:"completed_at"`
}

// Parse is pure so the handler, tests and the fuzzer share one definition of
// a valid payload. Errors wrapping ErrIgnored mean "fine, but nothing to do";
// any other error explains, in words fit for GitHub's delivery log, what is
// wrong with the payload.
func Parse(eventType string, payload []byte) (Event, error) {
	if eventType != EventWorkflowRun && eventType != EventWorkflowJob {
		return Event{}, fmt.Errorf("event type %.40q: %w", eventType, ErrIgnored)
	}
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return Event{}, jsonError("payload", err)
	}
	if env.Action == "" {
		return Event{}, errors.New("payload has no action")
	}
	actions := runActions
	if eventType == EventWorkflowJob {
		actions = jobActions
	}
	if !actions[env.Action] {
		return Event{}, fmt.Errorf("%s action %.40q: %w", eventType, env.Action, ErrIgnored)
	}
	ev := Event{Type: eventType, Action: env.Action}
	if env.Repository != nil {
		ev.Repository = env.Repository.FullName
	}
	var err error
	if eventType == EventWorkflowRun {
		err = parseRun(&ev, env.WorkflowRun)
	} else {
		err = parseJob(&ev, env.WorkflowJob)
	}
	if err != nil {
		return Event{}, err
	}
	if ev.Repository == "" {
		return Event{}, errors.New("payload has no repository.full_name")
	}
	return ev, nil
}

func parseRun(ev *Event, raw json.RawMessage) error {
	if isAbsent(raw) {
		return errors.New("payload has no workflow_run object")
	}
	var wr workflowRun
	if err := json.Unmarshal(raw, &wr); err != nil {
		return jsonError(EventWorkflowRun, err)
	}
	if wr.ID <= 0 {
		return errors.New("workflow_run.id is missing or not positive")
	}
	attempt, err := attemptOf(EventWorkflowRun, wr.RunAttempt)
	if err != nil {
		return err
	}
	started, err := timestamp("workflow_run.run_started_at", wr.RunStartedAt)
	if err != nil {
		return err
	}
	updated, err := timestamp("workflow_run.updated_at", wr.UpdatedAt)
	if err != nil {
		return err
	}
	// The top-level repository is the one the hook is installed on; the
	// run's own copy is a fallback for trimmed or replayed payloads.
	if ev.Repository == "" && wr.Repository != nil {
		ev.Repository = wr.Repository.FullName
	}
	ev.RunID = wr.ID
	ev.Observation.Run = &runstatus.Run{
		ID:         wr.ID,
		Attempt:    attempt,
		Repository: ev.Repository,
		Status:     wr.Status,
		Conclusion: wr.Conclusion,
		HTMLURL:    wr.HTMLURL,
		StartedAt:  started,
		UpdatedAt:  updated,
	}
	return nil
}

func parseJob(ev *Event, raw json.RawMessage) error {
	if isAbsent(raw) {
		return errors.New("payload has no workflow_job object")
	}
	var wj workflowJob
	if err := json.Unmarshal(raw, &wj); err != nil {
		return jsonError(EventWorkflowJob, err)
	}
	if wj.ID <= 0 {
		return errors.New("workflow_job.id is missing or not positive")
	}
	if wj.RunID <= 0 {
		return errors.New("workflow_job.run_id is missing or not positive")
	}
	attempt, err := attemptOf(EventWorkflowJob, wj.RunAttempt)
	if err != nil {
		return err
	}
	started, err := timestamp("workflow_job.started_at", wj.StartedAt)
	if err != nil {
		return err
	}
	completed, err := timestamp("workflow_job.completed_at", wj.CompletedAt)
	if err != nil {
		return err
	}
	job := &runstatus.Job{
		ID:          wj.ID,
		RunID:       wj.RunID,
		Attempt:     attempt,
		Name:        wj.Name,
		Status:      wj.Status,
		Conclusion:  wj.Conclusion,
		Labels:      wj.Labels,
		HTMLURL:     wj.HTMLURL,
		StartedAt:   started,
		CompletedAt: completed,
	}
	if len(wj.Steps) > 0 {
		job.Steps = make([]runstatus.Step, len(wj.Steps))
		for i, s := range wj.Steps {
			if job.Steps[i], err = parseStep(i, s); err != nil {
				return err
			}
		}
	}
	ev.RunID = wj.RunID
	ev.Observation.Job = job
	return nil
}

func parseStep(i int, s workflowStep) (runstatus.Step, error) {
	started, err := timestamp(fmt.Sprintf("workflow_job.steps[%d].started_at", i), s.StartedAt)
	if err != nil {
		return runstatus.Step{}, err
	}
	completed, err := timestamp(fmt.Sprintf("workflow_job.steps[%d].completed_at", i), s.CompletedAt)
	if err != nil {
		return runstatus.Step{}, err
	}
	return runstatus.Step{Number: s.Number, Name: s.Name, Status: s.Status, Conclusion: s.Conclusion,
		StartedAt: started, CompletedAt: completed}, nil
}

// isAbsent treats a missing key and an explicit null alike.
func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// attemptOf defaults a missing run_attempt to 1: older payloads and runs that
// were never re-run omit it, and attempt 1 is what they mean.
func attemptOf(object string, attempt int64) (int64, error) {
	switch {
	case attempt < 0:
		return 0, fmt.Errorf("%s.run_attempt is negative (%d)", object, attempt)
	case attempt == 0:
		return 1, nil
	}
	return attempt, nil
}

// timestamp accepts GitHub's RFC 3339 times with or without fractional
// seconds; null or empty means "not yet" and gives the zero time.
func timestamp(field, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %.40q is not an RFC 3339 time: %w", field, value, err)
	}
	return t, nil
}

// parseError gives a short, field-named reason while keeping the decoder's
// error reachable through errors.As/Is.
type parseError struct {
	reason string
	err    error
}

func (e *parseError) Error() string { return e.reason }
func (e *parseError) Unwrap() error { return e.err }

// jsonError rewrites encoding/json errors, which name Go types, into the
// payload's own field names.
func jsonError(where string, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return &parseError{fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, syntax), err}
	case errors.As(err, &typ) && typ.Field == "":
		return &parseError{fmt.Sprintf("%s must be a JSON object, not %s", where, typ.Value), err}
	case errors.As(err, &typ):
		field := where + "." + typ.Field
		if where == "payload" {
			field = typ.Field
		}
		return &parseError{fmt.Sprintf("%s must be a JSON %s, not %s", field, jsonKind(typ.Type), typ.Value), err}
	}
	return &parseError{fmt.Sprintf("invalid %s JSON: %v", where, err), err}
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	default:
		return "object"
	}
}
