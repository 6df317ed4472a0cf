package ghapi

import (
	"testing"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// Unchanged listings come back as 304s and are served from the Client's
// decoded memo; a change shows at once, and pages still follow.
func TestListActiveRunsReusesUnchangedPages(t *testing.T) {
	srv := newFake(t)
	for range 150 { // two pages of queued runs
		srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "queued"})
	}
	moving := srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "in_progress"})
	srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "completed", Conclusion: "success"})
	c := newClient(t, srv, "tok")

	count := func(runs []runstatus.Run) (queued, running int) {
		for _, r := range runs {
			switch r.Status {
			case "queued":
				queued++
			case "in_progress":
				running++
			}
		}
		return queued, running
	}
	first, err := c.ListActiveRuns(ctxT(t), testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if q, r := count(first); q != 150 || r != 1 || len(first) != 151 {
		t.Fatalf("first listing: %d queued, %d in progress of %d, want 150, 1 of 151", q, r, len(first))
	}
	before := srv.StatsFor("tok")
	again, err := c.ListActiveRuns(ctxT(t), testRepo)
	if err != nil {
		t.Fatal(err)
	}
	after := srv.StatsFor("tok")
	if len(again) != len(first) {
		t.Fatalf("unchanged listing returned %d runs, want %d", len(again), len(first))
	}
	for i := range first {
		if again[i] != first[i] {
			t.Fatalf("run %d differs after a 304: %+v vs %+v", i, again[i], first[i])
		}
	}
	if got := after.NotModified - before.NotModified; got != 3 {
		t.Errorf("unchanged listing: %d pages answered 304, want 3 (two queued, one in progress)", got)
	}
	if c.listings == nil || c.listings.Len() != 3 {
		t.Errorf("decoded pages kept: %v, want 3", c.listings)
	}
	if got := after.Counted - before.Counted; got != 0 {
		t.Errorf("unchanged listing cost %d counted calls, want 0", got)
	}

	moving.Status, moving.Conclusion = "completed", "failure"
	srv.SetRun(moving)
	changed, err := c.ListActiveRuns(ctxT(t), testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if q, r := count(changed); q != 150 || r != 0 {
		t.Errorf("after the run finished: %d queued, %d in progress, want 150, 0", q, r)
	}
}

// Callers index the Client's own pages rather than copies of them: an
// unchanged listing hands back the very runs the last one did, so a
// repository's active runs are held once however many indexes point in.
func TestListActiveRunPagesShareTheMemo(t *testing.T) {
	srv := newFake(t)
	for range 120 {
		srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "queued"})
	}
	c := newClient(t, srv, "tok")
	first, err := c.ListActiveRunPages(ctxT(t), testRepo)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.ListActiveRunPages(ctxT(t), testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || len(again) != 2 || len(first[0])+len(first[1]) != 120 {
		t.Fatalf("pages: %d then %d, want 2 holding 120 runs", len(first), len(again))
	}
	for i := range first {
		if &first[i][0] != &again[i][0] {
			t.Errorf("page %d was copied or decoded again after a 304", i)
		}
	}
}
