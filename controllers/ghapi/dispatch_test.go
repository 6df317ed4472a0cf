package ghapi

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/test/ghapitest"
)

const castID = "0b9f6c1e-5d2a-4c43-9a55-3f4b2d7e8a10"

func TestDispatchReturnsRunDetails(t *testing.T) {
	srv := newFake(t)
	c := newClient(t, srv, "tok")

	d, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", map[string]string{"size": "large"}, castID)
	if err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	ds := srv.Dispatches()
	if len(ds) != 1 {
		t.Fatalf("dispatch requests = %d, want 1", len(ds))
	}
	got := ds[0]
	if d.RunID == 0 || d.RunID != got.RunID {
		t.Errorf("RunID = %d, want the created run %d", d.RunID, got.RunID)
	}
	if d.HTMLURL != ghapitest.HTMLURL(testRepo, got.RunID) {
		t.Errorf("HTMLURL = %q", d.HTMLURL)
	}
	if got.Ref != "main" || got.Inputs["size"] != "large" || got.Inputs[CorrelationInput] != castID {
		t.Errorf("dispatch body = %+v", got)
	}
	if got.ReturnRunDetails == nil || !*got.ReturnRunDetails {
		t.Errorf("return_run_details = %v, want true", got.ReturnRunDetails)
	}
	if n := len(requestsTo(srv, http.MethodGet, "/runs")); n != 0 {
		t.Errorf("listed runs %d times; details made listing unnecessary", n)
	}
	if ua := srv.Requests()[0].UserAgent; ua != "cast-operator-test" {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestDispatchWithoutDetailsFindsRunByCorrelationID(t *testing.T) {
	srv := newFake(t)
	srv.SetDispatchMode(ghapitest.NoDetails)
	// A run of another Cast in the same window must not be picked.
	srv.AddRun(ghapitest.Run{Repository: testRepo, Workflow: "cast.yml", DisplayTitle: "cast some-other-uid"})
	c := newClient(t, srv, "tok")

	d, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, castID)
	if err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	ds := srv.Dispatches()
	if len(ds) != 1 || ds[0].Status != http.StatusNoContent {
		t.Fatalf("dispatches = %+v, want one answered 204", ds)
	}
	if ds[0].ReturnRunDetails == nil || !*ds[0].ReturnRunDetails {
		t.Errorf("first try must ask for return_run_details")
	}
	if ds[0].Inputs[CorrelationInput] != castID {
		t.Errorf("inputs = %v, want %s=%s", ds[0].Inputs, CorrelationInput, castID)
	}
	if d.RunID != ds[0].RunID || d.HTMLURL != ghapitest.HTMLURL(testRepo, d.RunID) {
		t.Errorf("Dispatched = %+v, want run %d", d, ds[0].RunID)
	}
	lists := requestsTo(srv, http.MethodGet, "/actions/workflows/cast.yml/runs")
	if len(lists) != 1 {
		t.Fatalf("list requests = %d, want 1", len(lists))
	}
	q, _ := url.ParseQuery(lists[0].Query)
	if q.Get("event") != "workflow_dispatch" || q.Get("per_page") != "100" {
		t.Errorf("list query = %q", lists[0].Query)
	}
	if !regexp.MustCompile(`^>=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(q.Get("created")) {
		t.Errorf("created filter = %q, want >=YYYY-MM-DDTHH:MM:SSZ", q.Get("created"))
	}
}

func TestDispatchRetriesWithoutRunDetailsOnOldGHES(t *testing.T) {
	srv := newFake(t)
	srv.SetDispatchMode(ghapitest.RejectReturnRunDetails)
	c := newClient(t, srv, "tok")

	d, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, castID)
	if err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	ds := srv.Dispatches()
	if len(ds) != 2 {
		t.Fatalf("dispatch requests = %d, want 2", len(ds))
	}
	if ds[0].Status != http.StatusUnprocessableEntity || ds[0].ReturnRunDetails == nil {
		t.Errorf("first dispatch = %+v, want 422 with return_run_details", ds[0])
	}
	if ds[1].Status != http.StatusNoContent || ds[1].ReturnRunDetails != nil {
		t.Errorf("second dispatch = %+v, want 204 without return_run_details", ds[1])
	}
	if ds[1].Inputs[CorrelationInput] != castID {
		t.Errorf("retry lost the correlation input: %v", ds[1].Inputs)
	}
	if d.RunID == 0 || d.RunID != ds[1].RunID {
		t.Errorf("RunID = %d, want %d", d.RunID, ds[1].RunID)
	}
	if n := len(srv.Runs()); n != 1 {
		t.Errorf("runs created = %d, want 1", n)
	}
}

func TestDispatchByNumericWorkflowID(t *testing.T) {
	for _, mode := range []ghapitest.DispatchMode{ghapitest.ReturnDetails, ghapitest.NoDetails} {
		srv := newFake(t)
		srv.SetDispatchMode(mode)
		id := strconv.FormatInt(srv.WorkflowID(testRepo, "cast.yml"), 10)
		c := newClient(t, srv, "tok")

		d, err := c.Dispatch(ctxT(t), testRepo, id, "main", nil, castID)
		if err != nil {
			t.Fatalf("mode %d: Dispatch: %v", mode, err)
		}
		if n := len(requestsTo(srv, http.MethodPost, "/actions/workflows/"+id+"/dispatches")); n != 1 {
			t.Errorf("mode %d: dispatches by ID = %d, want 1", mode, n)
		}
		if d.RunID == 0 || d.RunID != srv.Dispatches()[0].RunID {
			t.Errorf("mode %d: RunID = %d", mode, d.RunID)
		}
		if mode == ghapitest.NoDetails && len(requestsTo(srv, http.MethodGet, "/actions/workflows/"+id+"/runs")) != 1 {
			t.Errorf("fallback did not list runs by workflow ID")
		}
	}
}

func TestDispatchOverridesUserCastIDInput(t *testing.T) {
	srv := newFake(t)
	c := newClient(t, srv, "tok")
	if _, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", map[string]string{CorrelationInput: "spoofed"}, castID); err != nil {
		t.Fatal(err)
	}
	if got := srv.Dispatches()[0].Inputs[CorrelationInput]; got != castID {
		t.Errorf("cast_id = %q, want %q", got, castID)
	}
}

func TestDispatchRunNotVisibleYetReturnsZeroThenFound(t *testing.T) {
	srv := newFake(t)
	srv.SetDispatchMode(ghapitest.NoDetails)
	srv.SetListLag(1)
	c := newClient(t, srv, "tok")
	before := time.Now()

	d, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, castID)
	if err != nil || d.RunID != 0 {
		t.Fatalf("Dispatch = %+v, %v; want RunID 0 and no error", d, err)
	}
	d, err = c.FindDispatchedRun(ctxT(t), testRepo, "cast.yml", castID, before)
	if err != nil || d.RunID != srv.Dispatches()[0].RunID {
		t.Fatalf("FindDispatchedRun = %+v, %v; want run %d", d, err, srv.Dispatches()[0].RunID)
	}
}

func TestDispatchSucceedsWhenLookupFails(t *testing.T) {
	srv := newFake(t)
	srv.SetDispatchMode(ghapitest.NoDetails)
	srv.InjectFault(ghapitest.Fault{Method: http.MethodGet, PathContains: "/runs", Times: 1, Status: 502})
	c := newClient(t, srv, "tok")

	d, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, castID)
	if err != nil || d.RunID != 0 {
		t.Fatalf("Dispatch = %+v, %v; want accepted dispatch with RunID 0 so it is not repeated", d, err)
	}
	if n := len(srv.Dispatches()); n != 1 {
		t.Errorf("dispatches = %d, want 1", n)
	}
}

func TestDispatchValidationErrorIsNotRetried(t *testing.T) {
	srv := newFake(t)
	c := newClient(t, srv, "tok")
	_, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "", nil, castID)
	if err == nil || !IsPermanent(err) {
		t.Fatalf("err = %v, want permanent 422", err)
	}
	if n := len(srv.Dispatches()); n != 1 {
		t.Errorf("dispatches = %d, want 1: only a return_run_details 422 warrants a retry", n)
	}
}

func TestFindDispatchedRunFilters(t *testing.T) {
	srv := newFake(t)
	now := time.Now().UTC().Truncate(time.Second)
	old := srv.AddRun(ghapitest.Run{Repository: testRepo, DisplayTitle: "cast " + castID, CreatedAt: now.Add(-time.Hour)})
	srv.AddRun(ghapitest.Run{Repository: testRepo, DisplayTitle: "cast " + castID, Event: "push"})
	srv.AddRun(ghapitest.Run{Repository: testRepo, Workflow: "other.yml", DisplayTitle: "cast " + castID})
	srv.AddRun(ghapitest.Run{Repository: "spell-platform/elsewhere", DisplayTitle: "cast " + castID})
	c := newClient(t, srv, "tok")

	d, err := c.FindDispatchedRun(ctxT(t), testRepo, "cast.yml", castID, now)
	if err != nil || d.RunID != 0 {
		t.Fatalf("got %+v, %v; want nothing: matches are too old, not dispatches, or elsewhere", d, err)
	}
	d, err = c.FindDispatchedRun(ctxT(t), testRepo, "cast.yml", castID, time.Time{})
	if err != nil || d.RunID != old.ID {
		t.Fatalf("without since got %+v, %v; want %d", d, err, old.ID)
	}
	want := srv.AddRun(ghapitest.Run{Repository: testRepo, DisplayTitle: "Deploy (cast " + castID + ")"})
	d, err = c.FindDispatchedRun(ctxT(t), testRepo, "cast.yml", castID, now)
	if err != nil || d.RunID != want.ID {
		t.Fatalf("got %+v, %v; want %d", d, err, want.ID)
	}
}
