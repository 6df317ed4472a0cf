package ghapitest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
)

func get(t *testing.T, s *Server, path, auth string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s: non-JSON body %q", path, b)
		}
	}
	return resp, body
}

func TestErrorsAreGitHubShaped(t *testing.T) {
	s := NewServer()
	defer s.Close()
	resp, body := get(t, s, "/nope", "Bearer x")
	if resp.StatusCode != http.StatusNotFound || body["message"] != "Not Found" || body["documentation_url"] == nil {
		t.Errorf("unknown path: %d %v", resp.StatusCode, body)
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "" || resp.Header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("missing rate-limit headers: %v", resp.Header)
	}
	if resp, body := get(t, s, "/repos/o/r/actions/runs/1", ""); resp.StatusCode != http.StatusUnauthorized || body["message"] != "Requires authentication" {
		t.Errorf("no auth: %d %v", resp.StatusCode, body)
	}
	s.SetTokens("good")
	if resp, body := get(t, s, "/repos/o/r/actions/runs/1", "Bearer bad"); resp.StatusCode != http.StatusUnauthorized || body["message"] != "Bad credentials" {
		t.Errorf("bad token: %d %v", resp.StatusCode, body)
	}
	if resp, _ := get(t, s, "/repos/o/r/actions/runs/1", "token good"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("legacy token scheme: %d, want to pass auth and hit 404", resp.StatusCode)
	}
}

func TestListRunsPaginationAndCreatedFilter(t *testing.T) {
	s := NewServer()
	defer s.Close()
	base := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for i := range 5 {
		s.AddRun(Run{Repository: "o/r", CreatedAt: base.Add(time.Duration(i) * time.Hour)})
	}
	list := func(q url.Values) (*http.Response, map[string]any) {
		return get(t, s, "/repos/o/r/actions/workflows/cast.yml/runs?"+q.Encode(), "Bearer x")
	}
	resp, body := list(url.Values{"per_page": {"2"}, "page": {"2"}})
	runs := body["workflow_runs"].([]any)
	if body["total_count"].(float64) != 5 || len(runs) != 2 {
		t.Fatalf("page 2: total %v, %d runs", body["total_count"], len(runs))
	}
	if created := runs[0].(map[string]any)["created_at"]; created != "2026-01-02T17:00:00Z" {
		t.Errorf("page 2 starts at %v, want newest-first order", created)
	}
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `page=3`) || !strings.Contains(link, `rel="next"`) || !strings.Contains(link, `rel="prev"`) {
		t.Errorf("Link = %q", link)
	}
	for filter, want := range map[string]float64{
		">=2026-01-02T17:00:00Z":                     3,
		">2026-01-02T17:00:00Z":                      2,
		"<=2026-01-02T16:00:00Z":                     2,
		"2026-01-02T16:00:00Z..2026-01-02T18:00:00Z": 3,
	} {
		if _, body := list(url.Values{"created": {filter}}); body["total_count"] != want {
			t.Errorf("created %s: %v runs, want %v", filter, body["total_count"], want)
		}
	}
	if resp, _ := list(url.Values{"created": {">=yesterday"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad created filter: %d, want 422", resp.StatusCode)
	}
}

func TestFaultsCountDown(t *testing.T) {
	s := NewServer()
	defer s.Close()
	run := s.AddRun(Run{Repository: "o/r"})
	s.FailNext(2, 502)
	path := "/repos/o/r/actions/runs/" + jsonNumber(run.ID)
	for i, want := range []int{502, 502, 200} {
		if resp, _ := get(t, s, path, "Bearer x"); resp.StatusCode != want {
			t.Errorf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	s.SetRateLimit(0, time.Now().Add(time.Minute))
	if resp, body := get(t, s, path, "Bearer x"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("exhausted budget: %d %v", resp.StatusCode, body)
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	s := NewServer()
	s.HangNext(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(s.URL + "repos/o/r/actions/runs/1")
		if err == nil {
			resp.Body.Close()
		}
	}()
	for len(s.Requests()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hanging request")
	}
	<-done
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestListRepositoryRuns(t *testing.T) {
	s := NewServer()
	defer s.Close()
	base := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	add := func(hour int, workflow, status, conclusion, event string) int64 {
		return s.AddRun(Run{Repository: "o/r", Workflow: workflow, Status: status, Conclusion: conclusion, Event: event,
			CreatedAt: base.Add(time.Duration(hour) * time.Hour)}).ID
	}
	q1 := add(0, "cast.yml", "queued", "", "")
	p1 := add(1, "other.yml", "in_progress", "", "")
	c1 := add(2, "cast.yml", "completed", "success", "push")
	q2 := add(3, "other.yml", "queued", "", "")
	s.AddRun(Run{Repository: "o/elsewhere", Status: "queued"})

	ids := func(body map[string]any) []int64 {
		var out []int64
		for _, r := range body["workflow_runs"].([]any) {
			out = append(out, int64(r.(map[string]any)["id"].(float64)))
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{q2, c1, p1, q1}},
		{"status=queued", []int64{q2, q1}},
		{"status=in_progress", []int64{p1}},
		{"status=success", []int64{c1}}, // a conclusion matches too, as on GitHub
		{"event=push", []int64{c1}},
		{"created=>=2026-01-02T16:00:00Z&status=queued", []int64{q2}},
		{"per_page=2&page=2", []int64{p1, q1}},
	} {
		resp, body := get(t, s, "/repos/o/r/actions/runs?"+tc.query, "Bearer x")
		if got := ids(body); resp.StatusCode != http.StatusOK || !slices.Equal(got, tc.want) {
			t.Errorf("?%s: %d %v, want %v", tc.query, resp.StatusCode, got, tc.want)
		}
	}
	resp, body := get(t, s, "/repos/o/r/actions/runs?per_page=2", "Bearer x")
	if body["total_count"] != 4.0 || !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Errorf("page 1: total %v, Link %q", body["total_count"], resp.Header.Get("Link"))
	}
	if _, body := get(t, s, "/repos/o/none/actions/runs", "Bearer x"); body["total_count"] != 0.0 || len(body["workflow_runs"].([]any)) != 0 {
		t.Errorf("repository without runs: %v", body)
	}

	base2 := s.URL
	gh, err := github.NewClient(github.WithAuthToken("x"), github.WithURLs(&base2, nil))
	if err != nil {
		t.Fatal(err)
	}
	runs, _, err := gh.Actions.ListRepositoryWorkflowRuns(context.Background(), "o", "r", &github.ListWorkflowRunsOptions{Status: "in_progress"})
	if err != nil || runs.GetTotalCount() != 1 || runs.WorkflowRuns[0].GetID() != p1 || runs.WorkflowRuns[0].GetName() != "other.yml" {
		t.Errorf("go-github ListRepositoryWorkflowRuns: %v %+v", err, runs)
	}
}
