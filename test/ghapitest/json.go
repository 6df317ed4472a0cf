package ghapitest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTMLURL is the html_url the fake reports for a run.
func HTMLURL(repository string, runID int64) string { return htmlURL(repository, runID) }

func htmlURL(repo string, id int64) string {
	return fmt.Sprintf("https://github.com/%s/actions/runs/%d", repo, id)
}

// ts renders a time as GitHub does, or null when unset.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// str renders an optional string as GitHub does: null when empty.
func str(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func (s *Server) runJSONLocked(run *Run) map[string]any {
	owner, name, _ := strings.Cut(run.Repository, "/")
	api := fmt.Sprintf("%srepos/%s/actions/runs/%d", s.URL, run.Repository, run.ID)
	return map[string]any{
		"id":             run.ID,
		"name":           run.Workflow,
		"node_id":        fmt.Sprintf("WFR_%d", run.ID),
		"head_branch":    run.HeadBranch,
		"head_sha":       "0000000000000000000000000000000000000000",
		"path":           ".github/workflows/" + run.Workflow,
		"display_title":  run.DisplayTitle,
		"run_number":     run.ID % 1000,
		"event":          run.Event,
		"status":         run.Status,
		"conclusion":     str(run.Conclusion),
		"workflow_id":    s.workflows[workflowKey{run.Repository, run.Workflow}],
		"url":            api,
		"html_url":       htmlURL(run.Repository, run.ID),
		"created_at":     ts(run.CreatedAt),
		"updated_at":     ts(run.UpdatedAt),
		"run_attempt":    run.Attempt,
		"run_started_at": ts(run.RunStartedAt),
		"jobs_url":       api + "/jobs",
		"logs_url":       api + "/logs",
		"artifacts_url":  api + "/artifacts",
		"cancel_url":     api + "/cancel",
		"rerun_url":      api + "/rerun",
		"pull_requests":  []any{},
		"repository": map[string]any{
			"name": name, "full_name": run.Repository,
			"owner": map[string]any{"login": owner},
		},
	}
}

func (s *Server) jobJSONLocked(run *Run, j Job, attempt int64) map[string]any {
	steps := make([]map[string]any, 0, len(j.Steps))
	for _, st := range j.Steps {
		steps = append(steps, map[string]any{
			"name": st.Name, "status": st.Status, "conclusion": str(st.Conclusion),
			"number": st.Number, "started_at": ts(st.StartedAt), "completed_at": ts(st.CompletedAt),
		})
	}
	labels := append([]string{}, j.Labels...)
	return map[string]any{
		"id":                j.ID,
		"run_id":            run.ID,
		"run_url":           fmt.Sprintf("%srepos/%s/actions/runs/%d", s.URL, run.Repository, run.ID),
		"run_attempt":       attempt,
		"node_id":           fmt.Sprintf("CR_%d", j.ID),
		"head_branch":       run.HeadBranch,
		"head_sha":          "0000000000000000000000000000000000000000",
		"url":               fmt.Sprintf("%srepos/%s/actions/jobs/%d", s.URL, run.Repository, j.ID),
		"html_url":          fmt.Sprintf("https://github.com/%s/actions/runs/%d/job/%d", run.Repository, run.ID, j.ID),
		"status":            j.Status,
		"conclusion":        str(j.Conclusion),
		"created_at":        ts(run.CreatedAt),
		"started_at":        ts(j.StartedAt),
		"completed_at":      ts(j.CompletedAt),
		"name":              j.Name,
		"steps":             steps,
		"labels":            labels,
		"runner_name":       str(j.RunnerName),
		"runner_group_name": nil,
		"workflow_name":     run.Workflow,
	}
}

// paginate applies per_page (default 30, max 100) and page, and sets the
// Link header GitHub sends so clients can follow rel="next".
func paginate(w http.ResponseWriter, r *http.Request, total int) (lo, hi int) {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max(1, (total+per-1)/per)
	lo = min((page-1)*per, total)
	hi = min(lo+per, total)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return lo, hi
}
