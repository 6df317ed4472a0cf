package ghapi

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// budgetClient is a Client with the default write spacing, as the
// operator runs it.
func budgetClient(t *testing.T, srv *ghapitest.Server, token string) *Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, token)
	c, err := NewClients(Options{BaseURL: srv.URL, TokenFile: path}, nil).For(ctxT(t), cast(nil))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func limitReason(err error) string {
	var le *LimitError
	if errors.As(err, &le) {
		return le.Reason
	}
	return ""
}

func TestUnchangedReadsAreConditionalAndFree(t *testing.T) {
	srv := newFake(t)
	c := budgetClient(t, srv, "tok")
	id := srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "in_progress"}).ID

	first, err := c.GetRun(ctxT(t), testRepo, id)
	if err != nil {
		t.Fatal(err)
	}
	before := srv.StatsFor("tok")
	again, err := c.GetRun(ctxT(t), testRepo, id)
	if err != nil {
		t.Fatal(err)
	}
	after := srv.StatsFor("tok")
	if again != first {
		t.Errorf("replayed run %+v differs from the first read %+v", again, first)
	}
	if after.NotModified != before.NotModified+1 || after.Counted != before.Counted {
		t.Errorf("second read: %d more 304s and %d more counted calls, want 1 and 0", after.NotModified-before.NotModified, after.Counted-before.Counted)
	}

	srv.UpdateRun(id, func(r *ghapitest.Run) { r.Status, r.UpdatedAt = "completed", r.UpdatedAt.Add(time.Minute) })
	changed, err := c.GetRun(ctxT(t), testRepo, id)
	if err != nil || changed.Status != "completed" {
		t.Errorf("after a change: %+v, %v, want the new state", changed, err)
	}
	if s := srv.StatsFor("tok"); s.Counted != after.Counted+1 {
		t.Errorf("a changed run cost %d counted calls, want 1", s.Counted-after.Counted)
	}
}

func TestReserveKeepsTheLastCallsForEssentialWork(t *testing.T) {
	srv := newFake(t)
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	srv.SetRateLimitFor("tok", 5000, 300, reset)
	c := budgetClient(t, srv, "tok")
	id := srv.AddRun(ghapitest.Run{Repository: testRepo}).ID

	// The first call learns the budget; below the reserve (a tenth of the
	// limit) background reads stop without reaching GitHub.
	if _, err := c.ListArtifacts(ctxT(t), testRepo, id); err != nil {
		t.Fatal(err)
	}
	sent := len(srv.Requests())
	_, err := c.ListJobs(ctxT(t), testRepo, id, 1)
	if limitReason(err) != "reserve" || RetryAfter(err) < 59*time.Minute || !NotSent(err) {
		t.Fatalf("background read with 299 of 5000 left: %v, want a reserve refusal until the reset", err)
	}
	if len(srv.Requests()) != sent {
		t.Error("a refused call reached GitHub")
	}
	if _, err := c.ListJobs(WithPriority(ctxT(t), Essential), testRepo, id, 1); err != nil {
		t.Errorf("essential read: %v, want it to use the reserve", err)
	}
	if rem, at, ok := c.Budget().Remaining(); !ok || rem != 298 || !at.Equal(reset) {
		t.Errorf("Remaining = %d, %s, %v; want 298 until %s", rem, at, ok, reset)
	}
}

func TestResyncsSpreadOverWhatIsLeft(t *testing.T) {
	srv := newFake(t)
	// 600 left, 500 reserved: 100 over an hour, a quarter of them at once.
	srv.SetRateLimitFor("tok", 5000, 600, time.Now().Add(time.Hour))
	c := budgetClient(t, srv, "tok")
	allowed := 0
	var err error
	for range 30 {
		// Each a new run: a repeated read would be conditional, and free.
		id := srv.AddRun(ghapitest.Run{Repository: testRepo}).ID
		if _, err = c.ListArtifacts(ctxT(t), testRepo, id); err != nil {
			break
		}
		allowed++
	}
	if limitReason(err) != "spread" || allowed < 23 || allowed > 27 {
		t.Errorf("%d background calls went, then %v; want about 25, then a spread delay", allowed, err)
	}
	// The 75 left above the reserve spread over the hour: 48 s apart.
	if w := RetryAfter(err); w < 35*time.Second || w > 60*time.Second {
		t.Errorf("next background call in %s, want about 48s", w)
	}
}

func TestSecondaryLimitHoldsTheWholeCredential(t *testing.T) {
	srv := newFake(t)
	c := budgetClient(t, srv, "tok")
	id := srv.AddRun(ghapitest.Run{Repository: testRepo}).ID
	srv.InjectFault(ghapitest.Fault{Times: 1, Status: http.StatusForbidden, RetryAfter: 60 * time.Second,
		Message: "You have exceeded a secondary rate limit."})
	if _, err := c.GetRun(ctxT(t), testRepo, id); err == nil {
		t.Fatal("want the secondary limit's error")
	}
	sent := len(srv.Requests())
	for name, call := range map[string]func() error{
		"read":      func() error { _, err := c.ListArtifacts(ctxT(t), testRepo, id); return err },
		"essential": func() error { _, err := c.ListJobs(WithPriority(ctxT(t), Essential), testRepo, id, 1); return err },
		"cancel":    func() error { return c.CancelRun(ctxT(t), testRepo, id) },
	} {
		err := call()
		if limitReason(err) != "held" || RetryAfter(err) < 55*time.Second {
			t.Errorf("%s during the hold: %v, want held for about a minute", name, err)
		}
	}
	if len(srv.Requests()) != sent {
		t.Error("a call reached GitHub during the hold")
	}
}

func TestWritesArePaced(t *testing.T) {
	srv := newFake(t)
	c := budgetClient(t, srv, "tok")
	if _, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, "uid-1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, "uid-2")
	if limitReason(err) != "paced" || !NotSent(err) {
		t.Fatalf("second dispatch at once: %v, want a paced refusal", err)
	}
	wait := RetryAfter(err)
	if wait < DefaultWriteInterval-50*time.Millisecond || wait > DefaultWriteInterval {
		t.Errorf("second dispatch waits %s, want about %s", wait, DefaultWriteInterval)
	}
	time.Sleep(wait)
	if _, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, "uid-2"); err != nil {
		t.Errorf("dispatch in its slot: %v", err)
	}
	if n := len(srv.Dispatches()); n != 2 {
		t.Errorf("GitHub saw %d dispatches, want 2", n)
	}
}

func TestAtMostTenRequestsInFlightPerCredential(t *testing.T) {
	srv := newFake(t)
	c := budgetClient(t, srv, "tok")
	id := srv.AddRun(ghapitest.Run{Repository: testRepo}).ID
	srv.HangNext(25)
	ctx, cancel := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	for range 25 {
		wg.Go(func() { _, _ = c.GetRun(ctx, testRepo, id) })
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Requests()) < MaxInFlight && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(srv.Requests()); n != MaxInFlight {
		t.Errorf("%d requests reached GitHub while all hang, want %d", n, MaxInFlight)
	}
	cancel()
	wg.Wait()
}
