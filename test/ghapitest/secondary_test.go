package ghapitest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
)

func dispatchCall(auth string) call {
	return call{method: http.MethodPost, path: "/repos/o/r/actions/workflows/cast.yml/dispatches", auth: auth, body: `{"ref":"main"}`}
}

func TestSecondaryLimitOnContentCreation(t *testing.T) {
	s := NewServer()
	defer s.Close()
	clock := useClock(s, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s.SetSecondaryLimits(3, 5)
	// expect sends a dispatch as tok and checks whether it passed.
	expect := func(step, tok string, pass bool) {
		t.Helper()
		runs := len(s.Runs())
		before := s.StatsFor(tok)
		resp, b := do(t, s, dispatchCall("Bearer "+tok))
		after := s.StatsFor(tok)
		if pass {
			if resp.StatusCode != http.StatusNoContent || after.Writes != before.Writes+1 || len(s.Runs()) != runs+1 {
				t.Errorf("%s: %d %s, stats %+v, want 204 and a run", step, resp.StatusCode, b, after)
			}
			return
		}
		body := decode(t, b)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Retry-After") != "60" ||
			body["documentation_url"] != "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits" ||
			!strings.HasPrefix(body["message"].(string), "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.") ||
			!strings.Contains(body["message"].(string), resp.Header.Get("X-GitHub-Request-Id")) {
			t.Errorf("%s: %d %v %v, want GitHub's secondary-limit 403", step, resp.StatusCode, resp.Header, body)
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			t.Errorf("%s: X-RateLimit-Remaining: 0 would read as a primary limit", step)
		}
		if len(s.Runs()) != runs || after.Writes != before.Writes || after.Counted != before.Counted ||
			after.SecondaryLimited != before.SecondaryLimited+1 {
			t.Errorf("%s: stats %+v -> %+v, runs %d -> %d: a limited request must not reach the endpoint or cost budget",
				step, before, after, runs, len(s.Runs()))
		}
	}
	for i := range 3 {
		expect("minute 0, write "+strconv.Itoa(i+1), "a", true)
	}
	expect("minute 0, write 4", "a", false)
	expect("another identity", "b", true)
	if resp, _ := do(t, s, call{path: "/repos/o/r/actions/workflows/cast.yml/runs", auth: "Bearer a"}); resp.StatusCode != http.StatusOK {
		t.Errorf("a read while writes are limited: %d", resp.StatusCode)
	}
	clock.advance(time.Minute)
	// The rejected write was not remembered: two more fit the hour's five.
	expect("minute 1, write 4", "a", true)
	expect("minute 1, write 5", "a", true)
	expect("minute 1, write 6 (hour full)", "a", false)
	clock.advance(59 * time.Minute)
	expect("an hour after the first writes", "a", true)

	if got := s.StatsFor("a"); got.Writes != 6 || got.SecondaryLimited != 2 || got.Counted != 7 {
		t.Errorf("StatsFor(a) = %+v", got)
	}
}

func TestSecondaryLimitOnConcurrency(t *testing.T) {
	s := NewServer()
	defer s.Close()
	path := runPath("o/r", s.AddRun(Run{Repository: "o/r"}).ID)
	entered, release := make(chan struct{}, 2), make(chan struct{})
	var held atomic.Int32
	s.mu.Lock()
	s.maxInFlight = 2
	s.gate = func(*http.Request) {
		if held.Add(1) <= 2 { // hold the first two; let any other through
			entered <- struct{}{}
			<-release
		}
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if resp, _ := do(t, s, call{path: path, auth: "Bearer a"}); resp.StatusCode != http.StatusOK {
				t.Errorf("held request: %d", resp.StatusCode)
			}
		})
	}
	<-entered
	<-entered
	resp, _ := do(t, s, call{path: path, auth: "Bearer a"})
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Retry-After") != "60" {
		t.Errorf("third concurrent request: %d %v, want a secondary-limit 403", resp.StatusCode, resp.Header)
	}
	if resp, _ := do(t, s, call{path: path, auth: "Bearer b"}); resp.StatusCode != http.StatusOK {
		t.Errorf("another identity: %d", resp.StatusCode)
	}
	close(release)
	wg.Wait()
	if resp, _ := do(t, s, call{path: path, auth: "Bearer a"}); resp.StatusCode != http.StatusOK {
		t.Errorf("after the held requests finished: %d", resp.StatusCode)
	}
}

// TestGoGitHubClassifiesLimits checks the fake's answers against the
// library the operator uses: it tells primary from secondary limits by
// headers and documentation_url, not by status code.
func TestGoGitHubClassifiesLimits(t *testing.T) {
	s := NewServer()
	defer s.Close()
	run := s.AddRun(Run{Repository: "o/r"})
	client := func(tok string) *github.Client {
		base := s.URL
		c, err := github.NewClient(github.WithAuthToken(tok), github.WithURLs(&base, nil))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()

	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	s.SetRateLimitFor("primary", 5000, 0, reset)
	_, _, err := client("primary").Actions.GetWorkflowRunByID(ctx, "o", "r", run.ID)
	var rl *github.RateLimitError
	if !errors.As(err, &rl) || rl.Rate.Remaining != 0 || !rl.Rate.Reset.Time.Equal(reset) || !strings.HasPrefix(rl.Message, "API rate limit exceeded") {
		t.Errorf("primary: %T %v, want *github.RateLimitError until %v", err, err, reset)
	}

	s.SetSecondaryLimits(1, 10)
	c := client("secondary")
	if _, _, err := c.Actions.CreateWorkflowDispatchEventByFileName(ctx, "o", "r", "cast.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"}); err != nil {
		t.Fatalf("first dispatch: %v", err)
	}
	_, _, err = c.Actions.CreateWorkflowDispatchEventByFileName(ctx, "o", "r", "cast.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"})
	var ab *github.AbuseRateLimitError
	if !errors.As(err, &ab) || ab.RetryAfter == nil || *ab.RetryAfter != time.Minute {
		t.Errorf("secondary: %T %v, want *github.AbuseRateLimitError retrying after 60s", err, err)
	}
	if errors.As(err, &rl) {
		t.Errorf("secondary limit read as a primary one: %v", err)
	}

	s.RateLimitNext(1, http.StatusTooManyRequests, reset)
	if _, _, err := client("fault").Actions.GetWorkflowRunByID(ctx, "o", "r", run.ID); !errors.As(err, &rl) {
		t.Errorf("RateLimitNext: %T %v, want *github.RateLimitError", err, err)
	}
}
