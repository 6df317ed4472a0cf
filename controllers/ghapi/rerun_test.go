package ghapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// Re-runs against the fake's GitHub behaviour: a new attempt of the same
// run, or GitHub's refusal in its own words and marked permanent.
func TestRerunRun(t *testing.T) {
	failedJobs := []ghapitest.Job{
		{ID: 1, Name: "build", Status: "completed", Conclusion: "success"},
		{ID: 2, Name: "test", Status: "completed", Conclusion: "failure"},
	}
	tests := []struct {
		name       string
		run        ghapitest.Run
		failedOnly bool
		// wantMsg is GitHub's refusal; "" means the re-run is accepted.
		wantMsg string
		// wantQueued is how many jobs of the new attempt run again.
		wantQueued int
	}{
		{name: "all jobs of a failed run", run: ghapitest.Run{Status: "completed", Conclusion: "failure", Jobs: failedJobs}, wantQueued: 2},
		{name: "failed jobs of a failed run", run: ghapitest.Run{Status: "completed", Conclusion: "failure", Jobs: failedJobs},
			failedOnly: true, wantQueued: 1},
		{name: "all jobs of a succeeded run", run: ghapitest.Run{Status: "completed", Conclusion: "success",
			Jobs: failedJobs[:1]}, wantQueued: 1},
		{name: "failed jobs of a run without any", run: ghapitest.Run{Status: "completed", Conclusion: "success", Jobs: failedJobs[:1]},
			failedOnly: true, wantMsg: ghapitest.MsgRerunNoFailedJobs},
		{name: "a running run", run: ghapitest.Run{Status: "in_progress"}, wantMsg: ghapitest.MsgRerunRunning},
		{name: "a run created over a month ago", run: ghapitest.Run{Status: "completed", Conclusion: "failure",
			CreatedAt: time.Now().Add(-31 * 24 * time.Hour)}, wantMsg: ghapitest.MsgRerunTooOld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t)
			tt.run.Repository = testRepo
			run := srv.AddRun(tt.run)
			c := newClient(t, srv, "tok")
			err := c.RerunRun(ctxT(t), testRepo, run.ID, tt.failedOnly)
			if tt.wantMsg != "" {
				if err == nil || !IsPermanent(err) || Message(err) != tt.wantMsg {
					t.Fatalf("err = %v (message %q), want permanent %q", err, Message(err), tt.wantMsg)
				}
				if r, _ := srv.Run(run.ID); r.Attempt != 1 {
					t.Errorf("attempt after a refused re-run = %d, want 1", r.Attempt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.GetRun(ctxT(t), testRepo, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != run.ID || got.Attempt != 2 || got.Status != "queued" || got.Conclusion != "" {
				t.Errorf("run after re-run = %+v, want attempt 2 of run %d, queued, no conclusion", got, run.ID)
			}
			jobs, err := c.ListJobs(ctxT(t), testRepo, run.ID, 2)
			if err != nil {
				t.Fatal(err)
			}
			queued := 0
			for _, j := range jobs {
				if j.Status == "queued" {
					queued++
				}
			}
			if queued != tt.wantQueued {
				t.Errorf("jobs queued in attempt 2 = %d (%+v), want %d", queued, jobs, tt.wantQueued)
			}
			old, err := c.ListJobs(ctxT(t), testRepo, run.ID, 1)
			if err != nil || len(old) != len(tt.run.Jobs) {
				t.Errorf("attempt 1 jobs = %+v, %v; want its %d jobs kept", old, err, len(tt.run.Jobs))
			}
			rr := srv.Reruns()
			if len(rr) != 1 || rr[0].Status != http.StatusCreated || rr[0].FailedOnly != tt.failedOnly || rr[0].Attempt != 2 {
				t.Errorf("reruns = %+v", rr)
			}
		})
	}
}
