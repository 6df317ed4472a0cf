package ghapi

import (
	"context"
	"fmt"

	"github.com/google/go-github/v89/github"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// ActiveStatuses are the run statuses one repository listing asks for.
// A tracked run missing from them has finished or waits (for approval, a
// concurrency group): it is read on its own.
var ActiveStatuses = []string{"queued", "in_progress"}

// maxListPages bounds one status's listing: past 1,000 active runs the
// rest are read on their own, only when their Casts resync.
const maxListPages = 10

// ListActiveRuns returns the repository's queued and in-progress runs.
// One listing (100 runs a page, conditional, so free when nothing changed)
// stands in for a GET of every run a repository's Casts follow.
func (c *Client) ListActiveRuns(ctx context.Context, repository string) ([]runstatus.Run, error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return nil, err
	}
	ctx = withOperation(ctx, "list_active_runs")
	var out []runstatus.Run
	for _, status := range ActiveStatuses {
		opts := &github.ListWorkflowRunsOptions{Status: status, ListOptions: github.ListOptions{PerPage: 100}}
		pageCtx := ctx
		for range maxListPages {
			runs, resp, err := c.gh.Actions.ListRepositoryWorkflowRuns(pageCtx, owner, repo, opts)
			c.observe(resp)
			if err != nil {
				return nil, fmt.Errorf("listing %s runs of %s: %w", status, repository, err)
			}
			for _, r := range runs.WorkflowRuns {
				out = append(out, convertRun(r, repository))
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
			pageCtx = continuation(ctx)
		}
	}
	return out, nil
}
