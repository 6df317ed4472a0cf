package ghapitest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock replaces the server's clock so windows and expiry can be
// crossed without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func useClock(s *Server, start time.Time) *fakeClock {
	c := &fakeClock{t: start}
	s.mu.Lock()
	s.clock = c.now
	s.mu.Unlock()
	return c
}

type call struct {
	method, path, auth string
	header             map[string]string
	body               string
}

// do sends c to s and returns the response with its body read.
func do(t *testing.T, s *Server, c call) (*http.Response, []byte) {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, s.URL+strings.TrimPrefix(c.path, "/"), body)
	if err != nil {
		t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("non-JSON body %q: %v", b, err)
	}
	return m
}

func headerInt(t *testing.T, resp *http.Response, name string) int {
	t.Helper()
	n, err := strconv.Atoi(resp.Header.Get(name))
	if err != nil {
		t.Fatalf("%s = %q: %v", name, resp.Header.Get(name), err)
	}
	return n
}

func runPath(repo string, id int64) string {
	return "/repos/" + repo + "/actions/runs/" + strconv.FormatInt(id, 10)
}

func TestBooksArePerIdentity(t *testing.T) {
	s := NewServer()
	defer s.Close()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	useClock(s, start)
	path := runPath("o/r", s.AddRun(Run{Repository: "o/r"}).ID)

	for range 3 {
		do(t, s, call{path: path, auth: "Bearer alice"})
	}
	resp, _ := do(t, s, call{path: path, auth: "token bob"})
	for name, want := range map[string]string{
		"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Used": "1",
		"X-RateLimit-Resource": "core", "X-RateLimit-Reset": strconv.FormatInt(start.Add(time.Hour).Unix(), 10),
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("bob's %s = %q, want %q (his own book, not alice's)", name, got, want)
		}
	}
	resp, _ = do(t, s, call{path: path, auth: "Bearer alice"})
	if got := headerInt(t, resp, "X-RateLimit-Remaining"); got != 4996 {
		t.Errorf("alice's remaining = %d, want 4996", got)
	}

	s.SetRateLimitFor("alice", 60, 0, start.Add(10*time.Minute))
	resp, b := do(t, s, call{path: path, auth: "Bearer alice"})
	body := decode(t, b)
	msg, _ := body["message"].(string)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Remaining") != "0" ||
		resp.Header.Get("X-RateLimit-Limit") != "60" || resp.Header.Get("X-RateLimit-Used") != "60" ||
		!strings.HasPrefix(msg, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support") ||
		!strings.Contains(msg, resp.Header.Get("X-GitHub-Request-Id")) ||
		body["documentation_url"] != "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" || body["status"] != "403" {
		t.Errorf("exhausted alice: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := do(t, s, call{path: path, auth: "Bearer bob"}); resp.StatusCode != http.StatusOK {
		t.Errorf("bob is stalled by alice's empty book: %d", resp.StatusCode)
	}

	if got, want := s.StatsFor("alice"), (Stats{Requests: 5, Counted: 4, PrimaryLimited: 1}); got != want {
		t.Errorf("StatsFor(alice) = %+v, want %+v", got, want)
	}
	if got, want := s.StatsFor("bob"), (Stats{Requests: 2, Counted: 2}); got != want {
		t.Errorf("StatsFor(bob) = %+v, want %+v", got, want)
	}
	if got, want := s.Stats(), (Stats{Requests: 7, Counted: 6, PrimaryLimited: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-2]; last.Identity != "alice" || last.Status != 403 || !last.At.Equal(start) {
		t.Errorf("logged %+v, want alice's 403 at %v", last, start)
	}
}

func TestBookRollsOverAtReset(t *testing.T) {
	s := NewServer()
	defer s.Close()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := useClock(s, start)
	path := runPath("o/r", s.AddRun(Run{Repository: "o/r"}).ID)

	s.SetRateLimitFor("tok", 100, 0, start.Add(time.Minute))
	if resp, _ := do(t, s, call{path: path, auth: "Bearer tok"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("before reset: %d, want 403", resp.StatusCode)
	}
	clock.advance(time.Minute)
	resp, _ := do(t, s, call{path: path, auth: "Bearer tok"})
	if resp.StatusCode != http.StatusOK || headerInt(t, resp, "X-RateLimit-Remaining") != 99 ||
		resp.Header.Get("X-RateLimit-Reset") != strconv.FormatInt(start.Add(time.Minute+time.Hour).Unix(), 10) {
		t.Errorf("after reset: %d %v, want a fresh window of 100 ending an hour on", resp.StatusCode, resp.Header)
	}
}

func TestSetRateLimitAppliesToEveryBook(t *testing.T) {
	s := NewServer()
	defer s.Close()
	path := runPath("o/r", s.AddRun(Run{Repository: "o/r"}).ID)
	do(t, s, call{path: path, auth: "Bearer old"})
	reset := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	s.SetRateLimit(7, reset)
	for _, tok := range []string{"old", "new"} {
		resp, _ := do(t, s, call{path: path, auth: "Bearer " + tok})
		if headerInt(t, resp, "X-RateLimit-Remaining") != 6 || headerInt(t, resp, "X-RateLimit-Reset") != int(reset.Unix()) {
			t.Errorf("%s: %v, want 6 left until %d", tok, resp.Header, reset.Unix())
		}
	}
	s.SetRateLimitCap(3)
	resp, _ := do(t, s, call{path: path, auth: "Bearer newer"})
	if headerInt(t, resp, "X-RateLimit-Limit") != 3 || headerInt(t, resp, "X-RateLimit-Remaining") != 2 {
		t.Errorf("after SetRateLimitCap(3): %v", resp.Header)
	}
}

func TestUnauthenticatedAndFaultedRequestsCostNothing(t *testing.T) {
	s := NewServer()
	defer s.Close()
	path := runPath("o/r", s.AddRun(Run{Repository: "o/r"}).ID)
	s.SetTokens("good")
	for _, auth := range []string{"", "Bearer bad", "Basic Zm9vOmJhcg=="} {
		resp, _ := do(t, s, call{path: path, auth: auth})
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-RateLimit-Remaining") != "" {
			t.Errorf("auth %q: %d %v, want a 401 without any book's headers", auth, resp.StatusCode, resp.Header)
		}
	}
	s.FailNext(1, 502)
	resp, _ := do(t, s, call{path: path, auth: "Bearer good"})
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-RateLimit-Remaining") != "5000" {
		t.Errorf("fault: %d %v, want 502 reporting the untouched book", resp.StatusCode, resp.Header)
	}
	if got, want := s.Stats(), (Stats{Requests: 4}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	for i, r := range s.Requests() {
		if r.Identity != "" && i < 3 {
			t.Errorf("request %d logged identity %q for failed authentication", i, r.Identity)
		}
	}
	if resp, _ := do(t, s, call{path: path, auth: "Bearer good"}); headerInt(t, resp, "X-RateLimit-Remaining") != 4999 {
		t.Errorf("first counted request: %v", resp.Header)
	}
}
