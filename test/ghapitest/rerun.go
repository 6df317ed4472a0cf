package ghapitest

import (
	"net/http"
	"strconv"
	"time"
)

// GitHub's answers to a re-run it will not do, as the REST API words them.
const (
	// MsgRerunTooOld: GitHub re-runs a run only within 30 days of its
	// creation.
	MsgRerunTooOld = "Unable to re-run this workflow run because it was created over a month ago"
	// MsgRerunRunning: a run (its latest attempt) that has not completed.
	MsgRerunRunning = "This workflow is already running"
	// MsgRerunNoFailedJobs: the fake's wording for re-running the failed
	// jobs of a run without any; GitHub refuses that too.
	MsgRerunNoFailedJobs = "This workflow run has no failed jobs to re-run"
)

// rerunWindow is how long after its creation GitHub lets a run be re-run.
const rerunWindow = 30 * 24 * time.Hour

// Rerun is one re-run request and what the fake answered: Attempt is the
// attempt it started, 0 when refused.
type Rerun struct {
	Repository string
	RunID      int64
	FailedOnly bool
	Status     int
	Attempt    int64
}

// Reruns returns every re-run request received, in order.
func (s *Server) Reruns() []Rerun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rerun(nil), s.reruns...)
}

func (s *Server) handleRerun(w http.ResponseWriter, r *http.Request) { s.rerun(w, r, false) }

func (s *Server) handleRerunFailed(w http.ResponseWriter, r *http.Request) { s.rerun(w, r, true) }

// rerun starts the next attempt of a completed run, as GitHub does: same
// run ID, run_attempt one higher, status queued and no conclusion, new jobs
// (new IDs) for what runs again. Re-running only the failed jobs copies the
// jobs that succeeded into the new attempt as they were.
func (s *Server) rerun(w http.ResponseWriter, r *http.Request, failedOnly bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := strconv.ParseInt(r.PathValue("run"), 10, 64)
	rr := Rerun{Repository: repoOf(r), RunID: id, FailedOnly: failedOnly}
	defer func() { s.reruns = append(s.reruns, rr) }()
	run := s.lookupRun(w, r)
	if run == nil {
		rr.Status = http.StatusNotFound
		return
	}
	now := s.nowLocked().UTC().Truncate(time.Second)
	msg := ""
	switch {
	case now.Sub(run.CreatedAt) > rerunWindow:
		msg = MsgRerunTooOld
	case run.Status != "completed":
		msg = MsgRerunRunning
	case failedOnly && !hasFailedJobs(run):
		msg = MsgRerunNoFailedJobs
	}
	if msg != "" {
		rr.Status = http.StatusForbidden
		writeError(w, rr.Status, msg, docsREST)
		return
	}
	prev, next := run.Attempt, run.Attempt+1
	var jobs []Job
	for i := range run.Jobs {
		j := &run.Jobs[i]
		if j.Attempt == 0 {
			j.Attempt = prev // the current attempt's jobs stay with it
		}
		if j.Attempt != prev {
			continue
		}
		again := *j
		again.Attempt = next
		if !failedOnly || failedJob(*j) {
			s.nextID++
			again = Job{ID: s.nextID, Attempt: next, Name: j.Name, Status: "queued", Labels: append([]string(nil), j.Labels...)}
		}
		jobs = append(jobs, again)
	}
	run.Jobs = append(run.Jobs, jobs...)
	run.Attempt, run.Status, run.Conclusion = next, "queued", ""
	run.RunStartedAt, run.UpdatedAt = now, now
	run.Artifacts = nil
	rr.Status, rr.Attempt = http.StatusCreated, next
	writeJSON(w, rr.Status, map[string]any{})
}

func hasFailedJobs(run *Run) bool {
	for _, j := range run.Jobs {
		if (j.Attempt == 0 || j.Attempt == run.Attempt) && failedJob(j) {
			return true
		}
	}
	return false
}

// failedJob: what "Re-run failed jobs" runs again.
func failedJob(j Job) bool {
	switch j.Conclusion {
	case "failure", "cancelled", "timed_out", "startup_failure":
		return true
	}
	return false
}
