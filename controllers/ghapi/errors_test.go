package ghapi

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/spell-platform/cast-operator/test/ghapitest"
)

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		name      string
		fault     *ghapitest.Fault
		runID     int64 // 0 = an existing run
		permanent bool
		retry     time.Duration // expected RetryAfter, within two seconds
		check     func(error) bool
	}{
		{name: "404", runID: 7, permanent: true, check: isErrorResponse(404)},
		{name: "422", fault: &ghapitest.Fault{Status: 422, Message: "Validation Failed"}, permanent: true, check: isErrorResponse(422)},
		{name: "401", fault: &ghapitest.Fault{Status: 401, Message: "Bad credentials"}, permanent: true, check: isErrorResponse(401)},
		{name: "403 forbidden", fault: &ghapitest.Fault{Status: 403, Message: "Resource not accessible by integration"}, permanent: true, check: isErrorResponse(403)},
		{name: "408", fault: &ghapitest.Fault{Status: 408}, check: isErrorResponse(408)},
		{name: "500", fault: &ghapitest.Fault{Status: 500}, check: isErrorResponse(500)},
		{name: "503 retry-after", fault: &ghapitest.Fault{Status: 503, RetryAfter: 7 * time.Second}, retry: 7 * time.Second, check: isErrorResponse(503)},
		{name: "429 primary", fault: &ghapitest.Fault{Status: 429, RateLimited: true, Reset: time.Now().Add(90 * time.Second)}, retry: 90 * time.Second, check: isRateLimit},
		{name: "403 primary", fault: &ghapitest.Fault{Status: 403, RateLimited: true, Reset: time.Now().Add(45 * time.Second)}, retry: 45 * time.Second, check: isRateLimit},
		{name: "403 secondary", fault: &ghapitest.Fault{Status: 403, RetryAfter: 30 * time.Second,
			DocumentationURL: "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"},
			retry: 30 * time.Second, check: isAbuse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t)
			run := srv.AddRun(ghapitest.Run{Repository: testRepo})
			if tc.fault != nil {
				f := *tc.fault
				f.Times = 1
				srv.InjectFault(f)
			}
			id := run.ID
			if tc.runID != 0 {
				id = tc.runID
			}
			_, err := newClient(t, srv, "tok").GetRun(ctxT(t), testRepo, id)
			if err == nil {
				t.Fatal("want an error")
			}
			if !tc.check(err) {
				t.Errorf("typed error not reachable through %v", err)
			}
			if got := IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			// X-RateLimit-Reset is in whole seconds (up to one lost), and the
			// resets were set when the table was built, before the earlier
			// cases ran (slow under -race): two seconds of slack, below only.
			if got := RetryAfter(err); got < tc.retry-2*time.Second || got > tc.retry {
				t.Errorf("RetryAfter = %v, want about %v", got, tc.retry)
			}
		})
	}
}

func isErrorResponse(code int) func(error) bool {
	return func(err error) bool {
		var er *github.ErrorResponse
		return errors.As(err, &er) && er.Response.StatusCode == code
	}
}

func isRateLimit(err error) bool {
	var rl *github.RateLimitError
	return errors.As(err, &rl)
}

func isAbuse(err error) bool {
	var ab *github.AbuseRateLimitError
	return errors.As(err, &ab)
}

func TestRateLimitedClientBacksOffWithoutCallingGitHub(t *testing.T) {
	srv := newFake(t)
	run := srv.AddRun(ghapitest.Run{Repository: testRepo})
	reset := time.Now().Add(time.Minute).Truncate(time.Second)
	srv.RateLimitNext(1, http.StatusTooManyRequests, reset)
	c := newClient(t, srv, "tok")

	if _, err := c.GetRun(ctxT(t), testRepo, run.ID); !isRateLimit(err) {
		t.Fatalf("err = %v, want rate limit", err)
	}
	if rl := c.RateLimit(); rl.Remaining != 0 || !rl.Reset.Equal(reset) || rl.ObservedAt.IsZero() {
		t.Errorf("RateLimit = %+v, want 0 remaining until %v", rl, reset)
	}
	sent := len(srv.Requests())
	_, err := c.GetRun(ctxT(t), testRepo, run.ID)
	if !isRateLimit(err) || IsPermanent(err) || RetryAfter(err) <= 0 {
		t.Errorf("second call: %v, want a local rate-limit error with a wait", err)
	}
	if len(srv.Requests()) != sent {
		t.Errorf("client called GitHub while rate limited")
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	srv := newFake(t)
	run := srv.AddRun(ghapitest.Run{Repository: testRepo})
	srv.HangNext(1)
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "tok")
	cs := NewClients(Options{BaseURL: srv.URL, TokenFile: path, HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}}, nil)
	c, err := cs.For(context.Background(), cast(nil))
	if err != nil {
		t.Fatal(err)
	}
	before := counterValue(t, "get_run", "error")
	_, err = c.GetRun(ctxT(t), testRepo, run.ID)
	if err == nil || IsPermanent(err) || RetryAfter(err) != 0 {
		t.Fatalf("err = %v, want a transient error without a hint", err)
	}
	if got := counterValue(t, "get_run", "error"); got != before+1 {
		t.Errorf("error counter = %v, want %v", got, before+1)
	}
	if _, err := c.GetRun(ctxT(t), testRepo, run.ID); err != nil {
		t.Errorf("after the hang: %v", err)
	}
}

func TestBadCredentials(t *testing.T) {
	srv := newFake(t)
	srv.SetTokens("good-token")
	run := srv.AddRun(ghapitest.Run{Repository: testRepo})

	_, err := newClient(t, srv, "wrong-token").GetRun(ctxT(t), testRepo, run.ID)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized || er.Message != "Bad credentials" {
		t.Fatalf("err = %v, want 401 Bad credentials", err)
	}
	if !IsPermanent(err) {
		t.Errorf("401 should be permanent")
	}
	if strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("error leaks the token: %v", err)
	}
	if _, err := newClient(t, srv, "good-token").GetRun(ctxT(t), testRepo, run.ID); err != nil {
		t.Errorf("good token: %v", err)
	}
}

func TestRetryAfterWithoutGitHubError(t *testing.T) {
	if RetryAfter(nil) != 0 || RetryAfter(errors.New("x")) != 0 || IsPermanent(nil) || IsPermanent(context.Canceled) {
		t.Error("non-GitHub errors must be transient without a hint")
	}
	if d := parseRetryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); d < 58*time.Second || d > time.Minute {
		t.Errorf("HTTP-date Retry-After = %v", d)
	}
}
