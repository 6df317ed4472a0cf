package ghapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// route dispatches to the endpoint handlers; anything else gets GitHub's
// JSON 404 rather than net/http's plain-text one.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		writeError(w, http.StatusNotFound, "Not Found", docsREST)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches", s.handleDispatch)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs", s.handleListRuns)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/runs", s.handleListRuns)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/runs/{run}", s.handleGetRun)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/runs/{run}/jobs", s.handleJobs)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/runs/{run}/attempts/{attempt}/jobs", s.handleJobs)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/runs/{run}/artifacts", s.handleArtifacts)
	mux.HandleFunc("POST /repos/{owner}/{repo}/actions/runs/{run}/cancel", s.handleCancel)
	mux.HandleFunc("POST /repos/{owner}/{repo}/actions/runs/{run}/rerun", s.handleRerun)
	mux.HandleFunc("POST /repos/{owner}/{repo}/actions/runs/{run}/rerun-failed-jobs", s.handleRerunFailed)
	mux.HandleFunc("GET /repos/{owner}/{repo}/installation", s.handleFindInstallation)
	mux.HandleFunc("GET /orgs/{org}/installation", s.handleFindInstallation)
	mux.HandleFunc("GET /users/{user}/installation", s.handleFindInstallation)
	mux.HandleFunc(patternAccessTokens, s.handleAccessToken)
	return mux
}

func repoOf(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("repo") }

// resolveWorkflowLocked maps a URL workflow segment (file name or numeric
// ID) to its file name, as GitHub accepts both.
func (s *Server) resolveWorkflowLocked(repo, seg string, register bool) (string, bool) {
	if id, err := strconv.ParseInt(seg, 10, 64); err == nil {
		k, ok := s.workflowByID[id]
		return k.file, ok && k.repo == repo
	}
	if _, ok := s.workflows[workflowKey{repo, seg}]; !ok && !register {
		return "", false
	}
	s.workflowIDLocked(repo, seg)
	return seg, true
}

type dispatchBody struct {
	Ref              *string        `json:"ref"`
	Inputs           map[string]any `json:"inputs"`
	ReturnRunDetails *bool          `json:"return_run_details"`
}

func (s *Server) handleDispatch(w http.ResponseWriter, r *http.Request) {
	repo, seg := repoOf(r), r.PathValue("workflow")
	var body dispatchBody
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", docsREST)
		return
	}
	d := Dispatch{Repository: repo, Workflow: seg, ReturnRunDetails: body.ReturnRunDetails, Inputs: map[string]string{}}
	if body.Ref != nil {
		d.Ref = *body.Ref
	}
	for k, v := range body.Inputs {
		d.Inputs[k] = fmt.Sprint(v)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	status, msg := s.acceptDispatchLocked(&d, body)
	d.Status = status
	s.dispatches = append(s.dispatches, d)
	switch {
	case status == http.StatusOK:
		writeJSON(w, status, map[string]any{
			"workflow_run_id": d.RunID,
			"run_url":         fmt.Sprintf("%srepos/%s/actions/runs/%d", s.URL, repo, d.RunID),
			"html_url":        htmlURL(repo, d.RunID),
		})
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeError(w, status, msg, docsREST)
	}
}

func (s *Server) acceptDispatchLocked(d *Dispatch, body dispatchBody) (int, string) {
	file, ok := s.resolveWorkflowLocked(d.Repository, d.Workflow, true)
	if !ok {
		return http.StatusNotFound, "Not Found"
	}
	if body.Ref == nil || *body.Ref == "" {
		return http.StatusUnprocessableEntity, "Invalid request.\n\n\"ref\" wasn't supplied."
	}
	if s.mode == RejectReturnRunDetails && body.ReturnRunDetails != nil {
		return http.StatusUnprocessableEntity, "Invalid request.\n\n\"return_run_details\" is not a permitted key."
	}
	title := file
	if s.runName != nil {
		title = s.runName(file, d.Inputs)
	} else if id, ok := d.Inputs["cast_id"]; ok {
		title = "cast " + id
	}
	run := s.addRunLocked(Run{Repository: d.Repository, Workflow: file, HeadBranch: d.Ref, DisplayTitle: title})
	d.RunID = run.ID
	if s.listLag > 0 {
		s.hidden[run.ID] = s.listLag
	}
	if s.mode == ReturnDetails && body.ReturnRunDetails != nil && *body.ReturnRunDetails {
		return http.StatusOK, ""
	}
	return http.StatusNoContent, ""
}

// handleListRuns serves both "List workflow runs for a workflow" and, when
// the URL names no workflow, "List workflow runs for a repository", with
// the same filters, newest first.
func (s *Server) handleListRuns(w http.ResponseWriter, r *http.Request) {
	repo, q := repoOf(r), r.URL.Query()
	match, err := createdFilter(q.Get("created"))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: invalid created filter", docsREST)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	file := ""
	if seg := r.PathValue("workflow"); seg != "" {
		var ok bool
		if file, ok = s.resolveWorkflowLocked(repo, seg, false); !ok {
			writeError(w, http.StatusNotFound, "Not Found", docsREST)
			return
		}
	}
	var runs []*Run
	for _, run := range s.runs {
		if n := s.hidden[run.ID]; n > 0 {
			s.hidden[run.ID] = n - 1
			continue
		}
		if run.Repository != repo || (file != "" && run.Workflow != file) || !match(run.CreatedAt) {
			continue
		}
		if ev := q.Get("event"); ev != "" && run.Event != ev {
			continue
		}
		if st := q.Get("status"); st != "" && run.Status != st && run.Conclusion != st {
			continue
		}
		runs = append(runs, run)
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].CreatedAt.Equal(runs[j].CreatedAt) {
			return runs[i].CreatedAt.After(runs[j].CreatedAt)
		}
		return runs[i].ID > runs[j].ID
	})
	lo, hi := paginate(w, r, len(runs))
	out := make([]map[string]any, 0, hi-lo)
	for _, run := range runs[lo:hi] {
		out = append(out, s.runJSONLocked(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(runs), "workflow_runs": out})
}

// createdFilter understands the forms of GitHub's `created` search qualifier
// the client may send: >=T, >T, <=T, <T, A..B, and a bare date or time.
func createdFilter(v string) (func(time.Time) bool, error) {
	if v == "" {
		return func(time.Time) bool { return true }, nil
	}
	parse := func(s string) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
		return time.Parse("2006-01-02", s)
	}
	if a, b, ok := strings.Cut(v, ".."); ok {
		from, err1 := parse(a)
		to, err2 := parse(b)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad range %q", v)
		}
		return func(t time.Time) bool { return !t.Before(from) && !t.After(to) }, nil
	}
	for _, op := range []string{">=", "<=", ">", "<"} {
		if rest, ok := strings.CutPrefix(v, op); ok {
			at, err := parse(rest)
			if err != nil {
				return nil, err
			}
			return func(t time.Time) bool {
				switch op {
				case ">=":
					return !t.Before(at)
				case "<=":
					return !t.After(at)
				case ">":
					return t.After(at)
				}
				return t.Before(at)
			}, nil
		}
	}
	at, err := parse(v)
	if err != nil {
		return nil, err
	}
	return func(t time.Time) bool { return t.Equal(at) }, nil
}

func (s *Server) lookupRun(w http.ResponseWriter, r *http.Request) *Run {
	id, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	run, ok := s.runs[id]
	if err != nil || !ok || run.Repository != repoOf(r) {
		writeError(w, http.StatusNotFound, "Not Found", docsREST)
		return nil
	}
	return run
}

func (s *Server) handleGetRun(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run := s.lookupRun(w, r); run != nil {
		writeJSON(w, http.StatusOK, s.runJSONLocked(run))
	}
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.lookupRun(w, r)
	if run == nil {
		return
	}
	want := run.Attempt // filter=latest, GitHub's default
	if a := r.PathValue("attempt"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 1 || n > run.Attempt {
			writeError(w, http.StatusNotFound, "Not Found", docsREST)
			return
		}
		want = n
	} else if r.URL.Query().Get("filter") == "all" {
		want = 0
	}
	var jobs []map[string]any
	for _, j := range run.Jobs {
		attempt := j.Attempt
		if attempt == 0 {
			attempt = run.Attempt
		}
		if want == 0 || attempt == want {
			jobs = append(jobs, s.jobJSONLocked(run, j, attempt))
		}
	}
	lo, hi := paginate(w, r, len(jobs))
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(jobs), "jobs": append([]map[string]any{}, jobs[lo:hi]...)})
}

func (s *Server) handleArtifacts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.lookupRun(w, r)
	if run == nil {
		return
	}
	lo, hi := paginate(w, r, len(run.Artifacts))
	out := make([]map[string]any, 0, hi-lo)
	for _, a := range run.Artifacts[lo:hi] {
		created := run.UpdatedAt
		out = append(out, map[string]any{
			"id":                   a.ID,
			"node_id":              fmt.Sprintf("MDg6QXJ0aWZhY3Q%d", a.ID),
			"name":                 a.Name,
			"size_in_bytes":        a.SizeInBytes,
			"url":                  fmt.Sprintf("%srepos/%s/actions/artifacts/%d", s.URL, run.Repository, a.ID),
			"archive_download_url": s.ArchiveDownloadURL(run.Repository, a.ID),
			"expired":              a.Expired,
			"digest":               nil,
			"created_at":           ts(created),
			"updated_at":           ts(created),
			"expires_at":           ts(created.Add(90 * 24 * time.Hour)),
			"workflow_run":         map[string]any{"id": run.ID, "head_branch": run.HeadBranch},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(run.Artifacts), "artifacts": out})
}

// ArchiveDownloadURL is the archive_download_url the fake reports for an
// artifact, for tests to compare against.
func (s *Server) ArchiveDownloadURL(repository string, artifactID int64) string {
	return fmt.Sprintf("%srepos/%s/actions/artifacts/%d/zip", s.URL, repository, artifactID)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := strconv.ParseInt(r.PathValue("run"), 10, 64)
	c := Cancel{Repository: repoOf(r), RunID: id}
	defer func() { s.cancels = append(s.cancels, c) }()
	run := s.lookupRun(w, r)
	if run == nil {
		c.Status = http.StatusNotFound
		return
	}
	if run.Status == "completed" {
		c.Status = http.StatusConflict
		writeError(w, c.Status, "Cannot cancel a workflow run that is completed.", docsREST)
		return
	}
	run.Status, run.Conclusion = "completed", "cancelled"
	run.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	c.Status = http.StatusAccepted
	writeJSON(w, c.Status, map[string]any{})
}
