package controllers

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/gomega"
)

// Webhook payloads in the shape of GitHub's published workflow_run and
// workflow_job examples, trimmed to the fields a reader needs plus enough
// context (repository, sender, workflow) to look like the real thing.

type runEvent struct {
	Action, Repo, Status, Conclusion, Title string
	ID, Attempt                             int64
	Started, Updated                        time.Time
}

func runPayload(e runEvent) []byte {
	owner, name, _ := strings.Cut(e.Repo, "/")
	var conclusion any
	if e.Conclusion != "" {
		conclusion = e.Conclusion
	}
	return mustJSON(map[string]any{
		"action": e.Action,
		"workflow_run": map[string]any{
			"id": e.ID, "name": "Cast", "node_id": "WFR_kwLOtest", "head_branch": "main",
			"run_number": 7, "run_attempt": e.Attempt, "event": "workflow_dispatch", "display_title": e.Title,
			"status": e.Status, "conclusion": conclusion, "workflow_id": 161335,
			"html_url":       "https://github.com/" + e.Repo + "/actions/runs/" + itoa(e.ID),
			"created_at":     e.Started.Format(time.RFC3339),
			"updated_at":     e.Updated.Format(time.RFC3339),
			"run_started_at": e.Started.Format(time.RFC3339),
		},
		"workflow":     map[string]any{"id": 161335, "name": "Cast", "path": ".github/workflows/cast.yml", "state": "active"},
		"repository":   map[string]any{"id": 186853002, "name": name, "full_name": e.Repo, "private": false, "owner": map[string]any{"login": owner, "type": "Organization"}},
		"sender":       map[string]any{"login": "octocat", "type": "User"},
		"organization": map[string]any{"login": owner},
	})
}

type jobEvent struct {
	Action, Repo, Status, Conclusion, Name string
	ID, RunID, Attempt                     int64
	Started, Completed                     time.Time
	Steps                                  []string // statuses of the job's steps, in order
}

func jobPayload(e jobEvent) []byte {
	steps := make([]map[string]any, len(e.Steps))
	for i, s := range e.Steps {
		steps[i] = map[string]any{"name": "Step " + itoa(int64(i+1)), "status": s, "conclusion": nil, "number": i + 1}
		if s == "completed" {
			steps[i]["conclusion"] = "success"
		}
	}
	job := map[string]any{
		"id": e.ID, "run_id": e.RunID, "run_attempt": e.Attempt, "name": e.Name, "status": e.Status,
		"conclusion": nil, "labels": []string{"ubuntu-latest"}, "steps": steps,
		"started_at": e.Started.Format(time.RFC3339), "completed_at": nil,
		"html_url": "https://github.com/" + e.Repo + "/actions/runs/" + itoa(e.RunID) + "/job/" + itoa(e.ID),
	}
	if e.Conclusion != "" {
		job["conclusion"] = e.Conclusion
	}
	if !e.Completed.IsZero() {
		job["completed_at"] = e.Completed.Format(time.RFC3339)
	}
	owner, name, _ := strings.Cut(e.Repo, "/")
	return mustJSON(map[string]any{
		"action": e.Action, "workflow_job": job,
		"repository": map[string]any{"id": 186853002, "name": name, "full_name": e.Repo, "owner": map[string]any{"login": owner}},
		"sender":     map[string]any{"login": "octocat"},
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
