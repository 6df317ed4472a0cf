package controllers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Deliveries of a job's life built from GitHub's published workflow_job
// examples (testdata/github-webhooks): each keeps the example's shape and
// every field the spec does not set, and takes the spec's own run, job,
// attempt, action, status and steps.

// fixtureJob is one job of a spec's run, and the example it ends as.
type fixtureJob struct {
	ID, RunID, Attempt int64
	Name               string
	// Final names the example whose steps, conclusion and times the job
	// ends with, e.g. "completed.failure.with-organization".
	Final string
	// Waits: the job waits for an environment's approval once queued.
	Waits bool
	// Unfinished: the spec ends while the job's middle step runs.
	Unfinished bool
}

// ghStep and ghJob read a delivery back the way GitHub documents it, so
// a spec can say what status must hold without asking the receiver.
type ghStep struct {
	Number      int64      `json:"number"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

type ghJob struct {
	ID          int64      `json:"id"`
	RunAttempt  int64      `json:"run_attempt"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	Labels      []string   `json:"labels"`
	HTMLURL     string     `json:"html_url"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Steps       []ghStep   `json:"steps"`
}

func loadFixture(name string) map[string]any {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join("testdata", "github-webhooks", "workflow_job."+name+".payload.json"))
	Expect(err).NotTo(HaveOccurred())
	var payload map[string]any
	Expect(json.Unmarshal(raw, &payload)).To(Succeed())
	return payload
}

// finalJob is the example the job ends as, read as GitHub documents it.
func (j fixtureJob) finalJob() ghJob {
	GinkgoHelper()
	raw, err := json.Marshal(loadFixture(j.Final)["workflow_job"])
	Expect(err).NotTo(HaveOccurred())
	var out ghJob
	Expect(json.Unmarshal(raw, &out)).To(Succeed())
	return out
}

// delivery is the example named template, as job j's news: action and
// status, the given steps, and completed_at and conclusion only when the
// job completed.
func (j fixtureJob) delivery(template, status string, steps []ghStep) []byte {
	GinkgoHelper()
	final := j.finalJob()
	payload := loadFixture(template)
	payload["action"] = status
	owner, name, _ := strings.Cut(repo, "/")
	repository := payload["repository"].(map[string]any)
	repository["name"], repository["full_name"] = name, repo
	repository["owner"].(map[string]any)["login"] = owner
	wj := payload["workflow_job"].(map[string]any)
	wj["id"], wj["run_id"], wj["run_attempt"], wj["name"] = j.ID, j.RunID, j.Attempt, j.Name
	wj["html_url"] = "https://github.com/" + repo + "/actions/runs/" + itoa(j.RunID) + "/job/" + itoa(j.ID)
	wj["status"], wj["labels"], wj["started_at"] = status, final.Labels, final.StartedAt
	wj["conclusion"], wj["completed_at"] = nil, nil
	if status == "completed" {
		wj["conclusion"], wj["completed_at"] = final.Conclusion, final.CompletedAt
	}
	if steps == nil {
		steps = []ghStep{}
	}
	wj["steps"] = steps
	return mustJSON(payload)
}

// life is the deliveries GitHub sends about the job, in the order it
// sends them: queued (and waiting), then picked up by a runner, the
// first, second and a middle step each about to start and started, every
// step completed, and the job completed.
func (j fixtureJob) life() [][]byte {
	GinkgoHelper()
	final := j.finalJob().Steps
	out := [][]byte{j.delivery("queued", "queued", nil)}
	if j.Waits {
		out = append(out, j.delivery("waiting", "waiting", nil))
	}
	for _, k := range []int{0, 1, len(final) / 2} {
		out = append(out,
			j.delivery("in_progress.with-queued-steps", "in_progress", stepsAt(final, k, false)),
			j.delivery("in_progress.with-queued-steps", "in_progress", stepsAt(final, k, true)))
	}
	if j.Unfinished {
		return out
	}
	return append(out,
		j.delivery("in_progress.with-queued-steps", "in_progress", final),
		j.delivery(j.Final, "completed", final))
}

// stepsAt is the final steps as they stood when step k (from 0) was
// starting, if running, or was about to: the ones before it completed as
// they ended, the rest queued.
func stepsAt(final []ghStep, k int, running bool) []ghStep {
	out := make([]ghStep, len(final))
	for i, s := range final {
		switch {
		case i < k:
			out[i] = s
		case i == k && running:
			out[i] = ghStep{Number: s.Number, Name: s.Name, Status: "in_progress", StartedAt: s.StartedAt}
		default:
			out[i] = ghStep{Number: s.Number, Name: s.Name, Status: "queued"}
		}
	}
	return out
}

// jobStatus is what Cast status must hold of a delivery of the job.
func jobStatus(delivery []byte) castv1alpha1.JobStatus {
	GinkgoHelper()
	var payload struct {
		WorkflowJob ghJob `json:"workflow_job"`
	}
	Expect(json.Unmarshal(delivery, &payload)).To(Succeed())
	j := payload.WorkflowJob
	out := castv1alpha1.JobStatus{ID: j.ID, Attempt: j.RunAttempt, Name: j.Name, Status: j.Status,
		Conclusion: deref(j.Conclusion), Labels: j.Labels, HTMLURL: j.HTMLURL,
		StartedAt: metaTime(j.StartedAt), CompletedAt: metaTime(j.CompletedAt)}
	for _, s := range j.Steps {
		out.Steps = append(out.Steps, castv1alpha1.StepStatus{Number: s.Number, Name: s.Name, Status: s.Status,
			Conclusion: deref(s.Conclusion), StartedAt: metaTime(s.StartedAt), CompletedAt: metaTime(s.CompletedAt)})
		if s.Status == "completed" {
			out.StepsCompleted++
		}
		if s.Status != "queued" {
			out.StepsStarted++
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return &metav1.Time{Time: *t}
}
