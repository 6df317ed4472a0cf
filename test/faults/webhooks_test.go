package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/gomega"

	"github.com/spell-platform/cast-operator/controllers/webhook"
)

// GitHub's delivery shapes, trimmed to the fields the receiver reads plus
// the context a real delivery carries.
type (
	whRepo struct {
		FullName string `json:"full_name"`
		Name     string `json:"name"`
	}
	whRun struct {
		ID           int64   `json:"id"`
		RunAttempt   int64   `json:"run_attempt"`
		Status       string  `json:"status"`
		Conclusion   *string `json:"conclusion"`
		HTMLURL      string  `json:"html_url"`
		DisplayTitle string  `json:"display_title"`
		RunStartedAt string  `json:"run_started_at"`
		UpdatedAt    string  `json:"updated_at"`
	}
	whStep struct {
		Number     int64   `json:"number"`
		Name       string  `json:"name"`
		Status     string  `json:"status"`
		Conclusion *string `json:"conclusion"`
	}
	whJob struct {
		ID          int64    `json:"id"`
		RunID       int64    `json:"run_id"`
		RunAttempt  int64    `json:"run_attempt"`
		Name        string   `json:"name"`
		Status      string   `json:"status"`
		Conclusion  *string  `json:"conclusion"`
		Labels      []string `json:"labels"`
		StartedAt   string   `json:"started_at"`
		CompletedAt *string  `json:"completed_at"`
		Steps       []whStep `json:"steps"`
	}
	whDelivery struct {
		Action      string `json:"action"`
		WorkflowRun *whRun `json:"workflow_run,omitempty"`
		WorkflowJob *whJob `json:"workflow_job,omitempty"`
		Repository  whRepo `json:"repository"`
		Sender      any    `json:"sender"`
	}
)

const repository = "spell-platform/spells"

// delivery is one webhook as GitHub sends it.
type delivery struct {
	ID, Event string
	Body      []byte
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func encode(v whDelivery) []byte {
	v.Repository = whRepo{FullName: repository, Name: "spells"}
	v.Sender = map[string]string{"login": "octocat"}
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// runDelivery is a workflow_run event: action requested, in_progress or
// completed, at time at (its updated_at).
func runDelivery(runID int64, action, conclusion string, started, at time.Time) delivery {
	status := map[string]string{"requested": "queued", "in_progress": "in_progress", "completed": "completed"}[action]
	body := encode(whDelivery{Action: action, WorkflowRun: &whRun{
		ID: runID, RunAttempt: 1, Status: status, Conclusion: optional(conclusion),
		HTMLURL:      fmt.Sprintf("https://github.com/%s/actions/runs/%d", repository, runID),
		DisplayTitle: "cast", RunStartedAt: rfc(started), UpdatedAt: rfc(at)}})
	return delivery{ID: fmt.Sprintf("run-%d-%s", runID, action), Event: webhook.EventWorkflowRun, Body: body}
}

// jobDelivery is a workflow_job event for the run's only job, with two
// steps of which done are finished.
func jobDelivery(runID int64, action string, done int, started time.Time) delivery {
	steps := []whStep{{Number: 1, Name: "Set up", Status: "queued"}, {Number: 2, Name: "Brew", Status: "queued"}}
	for i := range steps {
		switch {
		case i < done:
			steps[i].Status, steps[i].Conclusion = "completed", optional("success")
		case i == done && action == "in_progress":
			steps[i].Status = "in_progress"
		}
	}
	job := &whJob{ID: runID*10 + 1, RunID: runID, RunAttempt: 1, Name: "cast", Status: action,
		Labels: []string{"ubuntu-latest"}, StartedAt: rfc(started), Steps: steps}
	if action == "completed" {
		job.Conclusion, job.CompletedAt = optional("success"), optional(rfc(started.Add(time.Minute)))
	}
	return delivery{ID: fmt.Sprintf("job-%d-%s-%d", runID, action, done), Event: webhook.EventWorkflowJob, Body: encode(whDelivery{Action: action, WorkflowJob: job})}
}

// signedRequest is d as GitHub posts it to url.
func signedRequest(url, secret string, d delivery) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderEvent, d.Event)
	req.Header.Set(webhook.HeaderDelivery, d.ID)
	req.Header.Set(webhook.HeaderSignature, webhook.Signature([]byte(secret), d.Body))
	return req, nil
}

// post sends a signed delivery and returns the status and body.
func post(hc *http.Client, url, secret string, d delivery) (int, string, error) {
	req, err := signedRequest(url, secret, d)
	if err != nil {
		return 0, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}
