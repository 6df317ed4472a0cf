package webhook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

const (
	testRepo  = "spell-platform/spellbook"
	testRunID = int64(9100200300)
	runURL    = "https://github.com/spell-platform/spellbook/actions/runs/9100200300"
	jobURL    = runURL + "/job/"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		file, event string
		want        Event
	}{{
		file: "workflow_run.requested.json", event: EventWorkflowRun,
		want: Event{Type: EventWorkflowRun, Action: "requested", Repository: testRepo, RunID: testRunID,
			Observation: runstatus.Observation{Run: &runstatus.Run{
				ID: testRunID, Attempt: 1, Repository: testRepo, Status: "queued", HTMLURL: runURL,
				StartedAt: at(t, "2026-03-02T09:15:04Z"), UpdatedAt: at(t, "2026-03-02T09:15:04Z"),
			}}},
	}, {
		file: "workflow_run.in_progress.json", event: EventWorkflowRun,
		want: Event{Type: EventWorkflowRun, Action: "in_progress", Repository: testRepo, RunID: testRunID,
			Observation: runstatus.Observation{Run: &runstatus.Run{
				ID: testRunID, Attempt: 1, Repository: testRepo, Status: "in_progress", HTMLURL: runURL,
				StartedAt: at(t, "2026-03-02T09:15:04Z"), UpdatedAt: at(t, "2026-03-02T09:15:19Z"),
			}}},
	}, {
		file: "workflow_run.completed.json", event: EventWorkflowRun,
		want: Event{Type: EventWorkflowRun, Action: "completed", Repository: testRepo, RunID: testRunID,
			Observation: runstatus.Observation{Run: &runstatus.Run{
				ID: testRunID, Attempt: 2, Repository: testRepo, Status: "completed", Conclusion: "failure",
				HTMLURL:   runURL,
				StartedAt: at(t, "2026-03-02T09:22:10Z"), UpdatedAt: at(t, "2026-03-02T09:31:47Z"),
			}}},
	}, {
		// No run_attempt in the payload: attempt 1.
		file: "workflow_run.requested.action_required.json", event: EventWorkflowRun,
		want: Event{Type: EventWorkflowRun, Action: "requested", Repository: testRepo, RunID: 9100200999,
			Observation: runstatus.Observation{Run: &runstatus.Run{
				ID: 9100200999, Attempt: 1, Repository: testRepo, Status: "completed", Conclusion: "action_required",
				HTMLURL:   "https://github.com/spell-platform/spellbook/actions/runs/9100200999",
				StartedAt: at(t, "2026-03-02T10:00:00Z"), UpdatedAt: at(t, "2026-03-02T10:00:01Z"),
			}}},
	}, {
		file: "workflow_job.queued.json", event: EventWorkflowJob,
		want: Event{Type: EventWorkflowJob, Action: "queued", Repository: testRepo, RunID: testRunID,
			Observation: runstatus.Observation{Job: &runstatus.Job{
				ID: 25500100001, RunID: testRunID, Attempt: 1, Name: "build (linux)", Status: "queued",
				Labels: []string{"ubuntu-24.04"}, StartedAt: at(t, "2026-03-02T09:15:05Z"), HTMLURL: jobURL + "25500100001",
			}}},
	}, {
		file: "workflow_job.waiting.json", event: EventWorkflowJob,
		want: Event{Type: EventWorkflowJob, Action: "waiting", Repository: testRepo, RunID: testRunID,
			Observation: runstatus.Observation{Job: &runstatus.Job{
				ID: 25500100777, RunID: testRunID, Attempt: 1, Name: "deploy", Status: "waiting",
				Labels: []string{"self-hosted", "linux", "arm64"}, StartedAt: at(t, "2026-03-02T09:15:06Z"), HTMLURL: jobURL + "25500100777",
			}}},
	}, {
		file: "workflow_job.in_progress.json", event: EventWorkflowJob,
		want: Event{Type: EventWorkflowJob, Action: "in_progress", Repository: testRepo, RunID: testRunID,
			Observation: runstatus.Observation{Job: &runstatus.Job{
				ID: 25500100001, RunID: testRunID, Attempt: 1, Name: "build (linux)", Status: "in_progress",
				Labels: []string{"ubuntu-24.04"}, StartedAt: at(t, "2026-03-02T09:15:12Z"), HTMLURL: jobURL + "25500100001",
				Steps: []runstatus.Step{
					{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success",
						StartedAt: at(t, "2026-03-02T09:15:12Z"), CompletedAt: at(t, "2026-03-02T09:15:14Z")},
					{Number: 2, Name: "Run actions/checkout@v5", Status: "in_progress", StartedAt: at(t, "2026-03-02T09:15:14Z")},
					{Number: 3, Name: "Run make cast", Status: "queued"},
				},
			}}},
	}, {
		file: "workflow_job.completed.json", event: EventWorkflowJob,
		want: Event{Type: EventWorkflowJob, Action: "completed", Repository: testRepo, RunID: testRunID,
			Observation: runstatus.Observation{Job: &runstatus.Job{
				ID: 25500100002, RunID: testRunID, Attempt: 2, Name: "build (macos)", Status: "completed", Conclusion: "failure",
				Labels: []string{"macos-15"}, HTMLURL: jobURL + "25500100002",
				StartedAt: at(t, "2026-03-02T09:22:15Z"), CompletedAt: at(t, "2026-03-02T09:31:40Z"),
				Steps: []runstatus.Step{
					{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success",
						StartedAt: at(t, "2026-03-02T09:22:15Z"), CompletedAt: at(t, "2026-03-02T09:22:19Z")},
					{Number: 2, Name: "Run actions/checkout@v5", Status: "completed", Conclusion: "success",
						StartedAt: at(t, "2026-03-02T09:22:19Z"), CompletedAt: at(t, "2026-03-02T09:22:21Z")},
					{Number: 3, Name: "Run make cast", Status: "completed", Conclusion: "failure",
						StartedAt: at(t, "2026-03-02T09:22:21Z"), CompletedAt: at(t, "2026-03-02T09:31:38Z")},
					{Number: 9, Name: "Post Run actions/checkout@v5", Status: "completed", Conclusion: "skipped",
						StartedAt: at(t, "2026-03-02T09:31:38Z"), CompletedAt: at(t, "2026-03-02T09:31:38Z")},
					{Number: 10, Name: "Complete job", Status: "completed", Conclusion: "success",
						StartedAt: at(t, "2026-03-02T09:31:38Z"), CompletedAt: at(t, "2026-03-02T09:31:39Z")},
				},
			}}},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(tt.event, readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %s\nwant %s", describe(got), describe(tt.want))
			}
		})
	}
}

// describe prints an Event with its Run or Job expanded, which %+v alone
// would show as pointers.
func describe(ev Event) string {
	s := fmt.Sprintf("%s/%s %s run %d", ev.Type, ev.Action, ev.Repository, ev.RunID)
	if r := ev.Observation.Run; r != nil {
		s += fmt.Sprintf(" Run=%+v", *r)
	}
	if j := ev.Observation.Job; j != nil {
		s += fmt.Sprintf(" Job=%+v", *j)
	}
	return s
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, event string
		payload     []byte
		ignored     bool
		want        string // substring of the error
	}{
		{name: "truncated JSON", event: EventWorkflowRun, payload: readTestdata(t, "truncated.json"), want: "invalid JSON"},
		{name: "not an object", event: EventWorkflowRun, payload: []byte(`[1, 2]`), want: "payload must be a JSON object, not array"},
		{name: "empty body", event: EventWorkflowJob, payload: nil, want: "invalid JSON"},
		{name: "no action", event: EventWorkflowRun, payload: []byte(`{"workflow_run": {"id": 1}}`), want: "payload has no action"},
		{name: "action not a string", event: EventWorkflowRun, payload: []byte(`{"action": 3}`), want: "action must be a JSON string, not number"},
		{name: "run missing", event: EventWorkflowRun, payload: readTestdata(t, "workflow_run.missing-object.json"), want: "payload has no workflow_run object"},
		{name: "run repository missing", event: EventWorkflowRun, payload: readTestdata(t, "workflow_run.missing-repository.json"), want: "payload has no repository.full_name"},
		{name: "run bad timestamp", event: EventWorkflowRun, payload: readTestdata(t, "workflow_run.bad-timestamp.json"), want: `workflow_run.run_started_at "March 2nd, 9:15" is not an RFC 3339 time`},
		{name: "run id a string", event: EventWorkflowRun, payload: readTestdata(t, "workflow_run.string-id.json"), want: "workflow_run.id must be a JSON number, not string"},
		{name: "run not an object", event: EventWorkflowRun, payload: []byte(`{"action": "completed", "workflow_run": "x"}`), want: "workflow_run must be a JSON object, not string"},
		{name: "run id zero", event: EventWorkflowRun, payload: []byte(`{"action": "completed", "workflow_run": {"id": 0}, "repository": {"full_name": "a/b"}}`), want: "workflow_run.id is missing"},
		{name: "negative attempt", event: EventWorkflowRun, payload: []byte(`{"action": "completed", "workflow_run": {"id": 5, "run_attempt": -1}, "repository": {"full_name": "a/b"}}`), want: "workflow_run.run_attempt is negative"},
		{name: "run payload sent as job", event: EventWorkflowJob, payload: readTestdata(t, "workflow_run.completed.json"), want: "payload has no workflow_job object"},
		{name: "job null", event: EventWorkflowJob, payload: readTestdata(t, "workflow_job.missing-object.json"), want: "payload has no workflow_job object"},
		{name: "job run_id missing", event: EventWorkflowJob, payload: readTestdata(t, "workflow_job.missing-run-id.json"), want: "workflow_job.run_id is missing"},
		{name: "job bad timestamp", event: EventWorkflowJob, payload: readTestdata(t, "workflow_job.bad-timestamp.json"), want: `workflow_job.completed_at "soon" is not an RFC 3339 time`},
		{name: "job labels not an array", event: EventWorkflowJob, payload: []byte(`{"action": "queued", "workflow_job": {"id": 1, "run_id": 2, "labels": "linux"}}`), want: "workflow_job.labels must be a JSON array, not string"},
		{name: "job step number a string", event: EventWorkflowJob, payload: []byte(`{"action": "queued", "workflow_job": {"id": 1, "run_id": 2, "steps": [{"number": "1"}]}}`), want: "workflow_job.steps.number must be a JSON number, not string"},
		{name: "job step bad timestamp", event: EventWorkflowJob, payload: []byte(`{"action": "in_progress", "workflow_job": {"id": 1, "run_id": 2, "steps": [{"number": 1}, {"number": 2, "started_at": "now"}]}}`), want: `workflow_job.steps[1].started_at "now" is not an RFC 3339 time`},
		{name: "job repository missing", event: EventWorkflowJob, payload: []byte(`{"action": "queued", "workflow_job": {"id": 1, "run_id": 2}}`), want: "payload has no repository.full_name"},

		{name: "ping", event: EventPing, payload: readTestdata(t, "ping.json"), ignored: true, want: `event type "ping"`},
		{name: "other event", event: "push", payload: []byte(`{}`), ignored: true, want: `event type "push"`},
		{name: "unknown run action", event: EventWorkflowRun, payload: readTestdata(t, "workflow_run.unknown-action.json"), ignored: true, want: `workflow_run action "rerequested"`},
		{name: "job action sent as run", event: EventWorkflowRun, payload: readTestdata(t, "workflow_job.queued.json"), ignored: true, want: `workflow_run action "queued"`},
		{name: "unknown job action", event: EventWorkflowJob, payload: []byte(`{"action": "deleted", "workflow_job": 42}`), ignored: true, want: `workflow_job action "deleted"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(tt.event, tt.payload)
			if err == nil {
				t.Fatalf("Parse succeeded with %+v, want an error containing %q", ev, tt.want)
			}
			if got := errors.Is(err, ErrIgnored); got != tt.ignored {
				t.Errorf("errors.Is(%v, ErrIgnored) = %v, want %v", err, got, tt.ignored)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !reflect.DeepEqual(ev, Event{}) {
				t.Errorf("Parse returned %+v with its error, want the zero Event", ev)
			}
		})
	}
}

// The fuzzer's seeds are the testdata payloads, each under the event type it
// was written for and under the other one.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		payload := readTestdata(f, e.Name())
		f.Add(EventWorkflowRun, payload)
		f.Add(EventWorkflowJob, payload)
	}
	f.Add("push", []byte(`{}`))
	f.Add(EventWorkflowJob, []byte(`{"action":"queued","workflow_job":{"id":1,"run_id":2,"steps":[{}]},"repository":{"full_name":"a/b"}}`))

	f.Fuzz(func(t *testing.T, eventType string, payload []byte) {
		ev, err := Parse(eventType, payload)
		if err != nil {
			return
		}
		if ev.RunID <= 0 || ev.Repository == "" {
			t.Fatalf("parsed event without run ID or repository: %+v", ev)
		}
		run, job := ev.Observation.Run, ev.Observation.Job
		if (run == nil) == (job == nil) {
			t.Fatalf("want exactly one of Run and Job, got run=%v job=%v", run, job)
		}
		if run != nil && (run.ID <= 0 || run.ID != ev.RunID || run.Attempt < 1 || run.Repository != ev.Repository) {
			t.Fatalf("inconsistent run %+v for event run %d of %s", *run, ev.RunID, ev.Repository)
		}
		if job != nil && (job.ID <= 0 || job.RunID != ev.RunID || job.Attempt < 1) {
			t.Fatalf("inconsistent job %+v for event run %d", *job, ev.RunID)
		}
	})
}
