package ghapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/go-github/v89/github"
	"k8s.io/utils/lru"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// ActiveStatuses are the run statuses one repository listing asks for.
// A tracked run missing from them has finished or waits (for approval, a
// concurrency group): it is read on its own.
var ActiveStatuses = []string{"queued", "in_progress"}

// maxListPages bounds one status's listing: past 1,000 active runs the
// rest are read on their own, only when their Casts resync.
const maxListPages = 10

// maxListingMemos bounds the decoded listing pages a Client keeps: a page
// per (repository, status, page) it lists.
const maxListingMemos = 4096

// listingMemo is one listing page as this Client last decoded it, under
// the ETag GitHub gave it, with the page after it (0: the last).
type listingMemo struct {
	etag string
	runs []runstatus.Run
	next int
}

// ListActiveRuns returns the repository's queued and in-progress runs.
// One listing (100 runs a page, conditional, so free when nothing changed)
// stands in for a GET of every run a repository's Casts follow.
func (c *Client) ListActiveRuns(ctx context.Context, repository string) ([]runstatus.Run, error) {
	pages, err := c.ListActiveRunPages(ctx, repository)
	if err != nil {
		return nil, err
	}
	var out []runstatus.Run
	for _, p := range pages {
		out = append(out, p...)
	}
	return out, nil
}

// ListActiveRunPages is ListActiveRuns page by page. The pages are the
// Client's own decoded listing, shared with every other caller and with
// the next conditional request: callers read them and never modify them.
// A caller that indexes them (by run ID) points into them rather than
// copying runs, so a repository's active runs are held once.
func (c *Client) ListActiveRunPages(ctx context.Context, repository string) ([][]runstatus.Run, error) {
	owner, repo, err := splitRepository(repository)
	if err != nil {
		return nil, err
	}
	ctx = withOperation(ctx, "list_active_runs")
	var out [][]runstatus.Run
	for _, status := range ActiveStatuses {
		page, pageCtx := 0, ctx
		for range maxListPages {
			runs, next, err := c.listRunsPage(pageCtx, owner, repo, repository, status, page)
			if err != nil {
				return nil, fmt.Errorf("listing %s runs of %s: %w", status, repository, err)
			}
			if len(runs) > 0 {
				out = append(out, runs)
			}
			if next == 0 {
				break
			}
			page, pageCtx = next, continuation(ctx)
		}
	}
	return out, nil
}

// listRunsPage reads one page of a repository's runs in status. The page
// is asked for conditionally against the runs this Client decoded from it
// last time, which it keeps instead of the ETag transport's raw body: a
// 304 costs neither budget nor decoding, and a repository's listing is
// held once, decoded (with thousands of idle Casts, decoding unchanged
// listings was most of what their resyncs cost, and raw pages most of
// what the controller held per Cast).
func (c *Client) listRunsPage(ctx context.Context, owner, repo, repository, status string, page int) ([]runstatus.Run, int, error) {
	q := url.Values{"status": {status}, "per_page": {"100"}}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	u := fmt.Sprintf("repos/%s/%s/actions/runs?%s", url.PathEscape(owner), url.PathEscape(repo), q.Encode())
	req, err := c.gh.NewRequest(withOwnETag(ctx), http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	memo, known := c.listingMemo(u)
	if known {
		req.Header.Set("If-None-Match", memo.etag)
	}
	resp, err := c.gh.BareDo(req)
	c.observe(resp)
	if known && resp != nil && resp.StatusCode == http.StatusNotModified {
		_ = resp.Body.Close()
		return memo.runs, memo.next, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var list github.WorkflowRuns
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, 0, fmt.Errorf("decoding the listing: %w", err)
	}
	runs := make([]runstatus.Run, 0, len(list.WorkflowRuns))
	for _, r := range list.WorkflowRuns {
		runs = append(runs, convertRun(r, repository))
	}
	if etag := resp.Header.Get("ETag"); etag != "" {
		c.rememberListing(u, listingMemo{etag: etag, runs: runs, next: resp.NextPage})
	}
	return runs, resp.NextPage, nil
}

func (c *Client) listingMemo(key string) (listingMemo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listings == nil {
		return listingMemo{}, false
	}
	v, ok := c.listings.Get(key)
	if !ok {
		return listingMemo{}, false
	}
	return v.(listingMemo), true
}

func (c *Client) rememberListing(key string, m listingMemo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listings == nil {
		c.listings = lru.New(maxListingMemos)
	}
	c.listings.Add(key, m)
}
