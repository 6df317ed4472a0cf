package ghapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-github/v89/github"
)

// RerunRun asks GitHub to run a finished run again, as its next attempt:
// every job, or with failedOnly the failed jobs and those depending on
// them. It is a content-creating request, spaced with dispatches and
// cancels. An error may mean GitHub did it anyway (a timeout), so a caller
// reads the run's attempt before asking again. GitHub refuses (4xx, see
// IsPermanent) a run still going and one created over a month ago.
func (c *Client) RerunRun(ctx context.Context, repository string, runID int64, failedOnly bool) error {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return err
	}
	if err := c.refused(repository); err != nil {
		return err
	}
	op := "rerun"
	if failedOnly {
		op = "rerun_failed_jobs"
	}
	ctx = withOperation(WithPriority(ctx, Essential), op)
	err = c.budget.write(ctx, fmt.Sprintf("%s:%s#%d", op, repository, runID), func() error {
		var (
			resp *github.Response
			err  error
		)
		if failedOnly {
			resp, err = c.gh.Actions.RerunFailedJobsByID(ctx, owner, repo, runID)
		} else {
			resp, err = c.gh.Actions.RerunWorkflowByID(ctx, owner, repo, runID)
		}
		c.observe(resp)
		return err
	})
	c.rememberRefusal(repository, err)
	if err != nil {
		return fmt.Errorf("re-running run %d in %s: %w", runID, repository, err)
	}
	return nil
}

// Message is GitHub's own words in an error answer ("Unable to re-run this
// workflow run because it was created over a month ago"), for a user to
// read; empty when err carries none.
func Message(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return ""
}
