package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v89/github"
	"k8s.io/utils/lru"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// CorrelationInput is the workflow_dispatch input that always carries the
// Cast's UID. GitHub's dispatch API may not say which run it created, so
// workflows put `${{ inputs.cast_id }}` in their run-name and the operator
// finds the run by its display_title.
const CorrelationInput = "cast_id"

// clockSkew widens FindDispatchedRun's time window, because `since` comes
// from the operator's clock while created_at comes from GitHub's.
const clockSkew = 5 * time.Minute

// maxPages stops pagination loops against a misbehaving server; 100 pages
// of 100 is far beyond any run's jobs or artifacts.
const maxPages = 100

// Client talks to GitHub with one token: GitHub meters rate limits per
// token, so that is the unit whose rate-limit state is worth tracking. It is
// safe for concurrent use.
type Client struct {
	gh     *github.Client
	budget *Budget
	// app is the installation's token source, nil for a plain token.
	app *ghinstallation.Transport

	mu   sync.Mutex
	rate RateLimit
	// refusals remembers, per repository, GitHub refusing this credential
	// a write (no permission, bad credentials) for a minute, so Casts
	// waiting for a fix do not send it again and again.
	refusals map[string]refusal
	// listings holds decoded repository listings by URL and ETag (see
	// listRunsPage); created on first use.
	listings *lru.Cache
}

// Budget is the account this Client draws on, shared with every Client of
// the same credential.
func (c *Client) Budget() *Budget { return c.budget }

// Dispatched identifies the run a dispatch created. RunID 0 means the
// dispatch was accepted but the run could not be identified yet; call
// FindDispatchedRun later rather than dispatching again.
type Dispatched struct {
	RunID   int64
	HTMLURL string
}

// RateLimit is the primary rate limit GitHub last reported for this token,
// so callers can slow down before GitHub starts refusing.
type RateLimit struct {
	Limit     int
	Remaining int
	Reset     time.Time
	// ObservedAt is zero until a response carried rate-limit headers.
	ObservedAt time.Time
}

// RateLimit returns the last rate-limit state seen in response headers.
func (c *Client) RateLimit() RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rate
}

func (c *Client) observe(resp *github.Response) {
	if resp == nil || resp.Response == nil || resp.Header.Get(github.HeaderRateRemaining) == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate = RateLimit{Limit: resp.Rate.Limit, Remaining: resp.Rate.Remaining,
		Reset: resp.Rate.Reset.Time, ObservedAt: time.Now()}
}

// Dispatch starts workflow on ref with inputs plus the correlation input,
// and identifies the run it created: directly when GitHub returns run
// details, otherwise by listing runs. An error means the dispatch may or may
// not have happened (a timeout is ambiguous), so callers should look for the
// run with FindDispatchedRun before dispatching again.
func (c *Client) Dispatch(ctx context.Context, repository, workflow, ref string, inputs map[string]string, correlationID string) (Dispatched, error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return Dispatched{}, err
	}
	if correlationID == "" {
		return Dispatched{}, fmt.Errorf("%w: empty correlation ID", errBadArgument)
	}
	body := github.CreateWorkflowDispatchEventRequest{
		Ref:              ref,
		Inputs:           make(map[string]any, len(inputs)+1),
		ReturnRunDetails: github.Ptr(true),
	}
	for k, v := range inputs {
		body.Inputs[k] = v
	}
	body.Inputs[CorrelationInput] = correlationID

	if err := c.refused(repository); err != nil {
		return Dispatched{}, err
	}
	ctx = WithPriority(ctx, Essential)
	since := time.Now()
	details, err := c.dispatch(ctx, owner, repo, workflow, body, correlationID, false)
	if rejectsRunDetails(err) {
		// Older GitHub Enterprise validates the body strictly and refuses
		// the field before doing anything, so retrying cannot double-run.
		// The retry is the second half of one dispatch: it takes the next
		// slot, ahead of those queued, and waits for it in place.
		body.ReturnRunDetails = nil
		details, err = c.dispatch(ctx, owner, repo, workflow, body, correlationID, true)
	}
	if err != nil {
		return Dispatched{}, fmt.Errorf("dispatching %s in %s: %w", workflow, repository, err)
	}
	if id := details.GetWorkflowRunID(); id != 0 {
		return Dispatched{RunID: id, HTMLURL: details.GetHTMLURL()}, nil
	}
	d, err := c.FindDispatchedRun(ctx, repository, workflow, correlationID, since)
	if err != nil {
		// The dispatch itself succeeded: reporting an error would invite a
		// second dispatch. RunID 0 tells the caller to look again later.
		logf.FromContext(ctx).Info("workflow dispatched but its run could not be looked up yet",
			"repository", repository, "workflow", workflow, "error", err.Error())
		return Dispatched{}, nil
	}
	return d, nil
}

func (c *Client) dispatch(ctx context.Context, owner, repo, workflow string, body github.CreateWorkflowDispatchEventRequest, key string, retry bool) (*github.WorkflowDispatchRunDetails, error) {
	ctx = withOperation(ctx, "dispatch")
	var details *github.WorkflowDispatchRunDetails
	write := c.budget.write
	if retry {
		write = c.budget.writeNext
	}
	err := write(ctx, "dispatch:"+key, func() error {
		var (
			resp *github.Response
			err  error
		)
		if id, ok := workflowID(workflow); ok {
			details, resp, err = c.gh.Actions.CreateWorkflowDispatchEventByID(ctx, owner, repo, id, body)
		} else {
			details, resp, err = c.gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, owner, repo, workflow, body)
		}
		c.observe(resp)
		return err
	})
	c.rememberRefusal(owner+"/"+repo, err)
	return details, err
}

// rejectsRunDetails recognises the 422 an older GitHub Enterprise answers
// when it does not know return_run_details.
func rejectsRunDetails(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	text := er.Message
	for _, e := range er.Errors {
		text += " " + e.Field + " " + e.Message
	}
	return strings.Contains(strings.ToLower(text), "return_run_details")
}

// FindDispatchedRun looks for the run whose display_title contains
// correlationID among the workflow's dispatch runs created since (less a
// clock-skew margin). Only the newest 1,000 such runs are searched, so pass the
// dispatch time, not an older one. RunID 0 with a nil error means "not there
// yet": GitHub lists a run a few seconds after accepting its dispatch.
func (c *Client) FindDispatchedRun(ctx context.Context, repository, workflow, correlationID string, since time.Time) (Dispatched, error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return Dispatched{}, err
	}
	if correlationID == "" {
		return Dispatched{}, fmt.Errorf("%w: empty correlation ID", errBadArgument)
	}
	opts := &github.ListWorkflowRunsOptions{Event: "workflow_dispatch", ListOptions: github.ListOptions{PerPage: 100}}
	if !since.IsZero() {
		opts.Created = ">=" + since.Add(-clockSkew).UTC().Format(time.RFC3339)
	}
	ctx = withOperation(WithPriority(ctx, Essential), "list_runs")
	var found *github.WorkflowRun
	// A storm of dispatches puts hundreds of runs in the window: follow the
	// pages, or a run past the first hundred would be dispatched again.
	for range maxListPages {
		var (
			runs *github.WorkflowRuns
			resp *github.Response
		)
		if id, ok := workflowID(workflow); ok {
			runs, resp, err = c.gh.Actions.ListWorkflowRunsByID(ctx, owner, repo, id, opts)
		} else {
			runs, resp, err = c.gh.Actions.ListWorkflowRunsByFileName(ctx, owner, repo, workflow, opts)
		}
		c.observe(resp)
		if err != nil {
			return Dispatched{}, fmt.Errorf("listing runs of %s in %s: %w", workflow, repository, err)
		}
		for _, r := range runs.WorkflowRuns {
			// The oldest match wins so repeated lookups agree even if a
			// duplicate dispatch ever happened.
			if strings.Contains(r.GetDisplayTitle(), correlationID) && (found == nil || r.GetID() < found.GetID()) {
				found = r
			}
		}
		if found != nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if found == nil {
		return Dispatched{}, nil
	}
	return Dispatched{RunID: found.GetID(), HTMLURL: found.GetHTMLURL()}, nil
}

// GetRun reads a run's current state, for polling when webhooks are late or
// lost and for attaching to an existing run.
func (c *Client) GetRun(ctx context.Context, repository string, runID int64) (runstatus.Run, error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return runstatus.Run{}, err
	}
	r, resp, err := c.gh.Actions.GetWorkflowRunByID(withOperation(ctx, "get_run"), owner, repo, runID)
	c.observe(resp)
	if err != nil {
		return runstatus.Run{}, fmt.Errorf("getting run %d in %s: %w", runID, repository, err)
	}
	return convertRun(r, repository), nil
}

func convertRun(r *github.WorkflowRun, repository string) runstatus.Run {
	// The repository, status and conclusion are the same few strings in
	// every run of a listing: the caller's copy and interned ones are kept
	// instead of one decoded copy per run.
	full := repository
	if n := r.GetRepository().GetFullName(); n != "" && n != repository {
		full = n
	}
	return runstatus.Run{
		ID:         r.GetID(),
		Attempt:    int64(r.GetRunAttempt()),
		Repository: full,
		Status:     unique.Make(r.GetStatus()).Value(),
		Conclusion: unique.Make(r.GetConclusion()).Value(),
		HTMLURL:    r.GetHTMLURL(),
		StartedAt:  r.GetRunStartedAt().Time,
		UpdatedAt:  r.GetUpdatedAt().Time,
	}
}

// ListJobs returns every job of one attempt of a run (attempt 0 means the
// latest), following pagination, because progress and cost are computed over
// all jobs.
func (c *Client) ListJobs(ctx context.Context, repository string, runID, attempt int64) ([]runstatus.Job, error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return nil, err
	}
	ctx = withOperation(ctx, "list_jobs")
	var out []runstatus.Job
	page := github.ListOptions{PerPage: 100}
	for range maxPages {
		var (
			jobs *github.Jobs
			resp *github.Response
		)
		if attempt > 0 {
			jobs, resp, err = c.gh.Actions.ListWorkflowJobsAttempt(ctx, owner, repo, runID, attempt, &page)
		} else {
			jobs, resp, err = c.gh.Actions.ListWorkflowJobs(ctx, owner, repo, runID,
				&github.ListWorkflowJobsOptions{Filter: "latest", ListOptions: page})
		}
		c.observe(resp)
		if err != nil {
			return nil, fmt.Errorf("listing jobs of run %d in %s: %w", runID, repository, err)
		}
		for _, j := range jobs.Jobs {
			out = append(out, convertJob(j, runID, attempt))
		}
		if resp.NextPage == 0 {
			break
		}
		page.Page = resp.NextPage
		ctx = continuation(ctx)
	}
	return out, nil
}

func convertJob(j *github.WorkflowJob, runID, attempt int64) runstatus.Job {
	job := runstatus.Job{
		ID:          j.GetID(),
		RunID:       j.GetRunID(),
		Attempt:     j.GetRunAttempt(),
		Name:        j.GetName(),
		Status:      j.GetStatus(),
		Conclusion:  j.GetConclusion(),
		Labels:      append([]string(nil), j.Labels...),
		HTMLURL:     j.GetHTMLURL(),
		StartedAt:   j.GetStartedAt().Time,
		CompletedAt: j.GetCompletedAt().Time,
	}
	if job.RunID == 0 {
		job.RunID = runID
	}
	if job.Attempt == 0 {
		job.Attempt = attempt
	}
	for _, s := range j.Steps {
		job.Steps = append(job.Steps, runstatus.Step{
			Number: s.GetNumber(), Name: s.GetName(), Status: s.GetStatus(), Conclusion: s.GetConclusion(),
			StartedAt: s.GetStartedAt().Time, CompletedAt: s.GetCompletedAt().Time,
		})
	}
	return job
}

// ListArtifacts returns a run's downloadable artifacts, following
// pagination. Expired artifacts are left out: their URLs no longer work.
func (c *Client) ListArtifacts(ctx context.Context, repository string, runID int64) ([]v1alpha1.Artifact, error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return nil, err
	}
	ctx = withOperation(ctx, "list_artifacts")
	var out []v1alpha1.Artifact
	page := github.ListOptions{PerPage: 100}
	for range maxPages {
		list, resp, err := c.gh.Actions.ListWorkflowRunArtifacts(ctx, owner, repo, runID, &page)
		c.observe(resp)
		if err != nil {
			return nil, fmt.Errorf("listing artifacts of run %d in %s: %w", runID, repository, err)
		}
		for _, a := range list.Artifacts {
			if a.GetExpired() {
				continue
			}
			out = append(out, v1alpha1.Artifact{Name: a.GetName(), SizeBytes: a.GetSizeInBytes(), URL: a.GetArchiveDownloadURL()})
		}
		if resp.NextPage == 0 {
			break
		}
		page.Page = resp.NextPage
		ctx = continuation(ctx)
	}
	return out, nil
}

// CancelRun asks GitHub to cancel a run. A run that already completed is
// not an error: the caller's goal, a run that is no longer running, holds.
func (c *Client) CancelRun(ctx context.Context, repository string, runID int64) error {
	_, err := c.CancelRunIfRunning(ctx, repository, runID)
	return err
}

// CancelRunIfRunning is CancelRun that also says whether GitHub found the
// run already completed (409), so a caller can report the run's own
// outcome instead of claiming it cancelled it.
func (c *Client) CancelRunIfRunning(ctx context.Context, repository string, runID int64) (completed bool, err error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return false, err
	}
	if err := c.refused(repository); err != nil {
		return false, err
	}
	ctx = withOperation(WithPriority(ctx, Essential), "cancel_run")
	err = c.budget.write(ctx, fmt.Sprintf("cancel:%s#%d", repository, runID), func() error {
		resp, err := c.gh.Actions.CancelWorkflowRunByID(ctx, owner, repo, runID)
		c.observe(resp)
		return err
	})
	c.rememberRefusal(repository, err)
	var accepted *github.AcceptedError
	switch {
	case err == nil || errors.As(err, &accepted):
		return false, nil
	case statusCode(err) == http.StatusConflict:
		return true, nil
	}
	return false, fmt.Errorf("cancelling run %d in %s: %w", runID, repository, err)
}

// errBadArgument marks caller mistakes that no retry can fix.
var errBadArgument = errors.New("invalid argument")

func splitRepository(repository string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", fmt.Errorf("%w: repository %q is not owner/repo", errBadArgument, repository)
	}
	return owner, repo, nil
}

// workflowID reports whether workflow is a numeric workflow ID rather than
// a file name; GitHub addresses workflows either way.
func workflowID(workflow string) (int64, bool) {
	id, err := strconv.ParseInt(workflow, 10, 64)
	return id, err == nil && id > 0
}
