package ghapi

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func TestGetRunMapsFields(t *testing.T) {
	srv := newFake(t)
	run := srv.AddRun(ghapitest.Run{
		Repository: testRepo, Status: "completed", Conclusion: "failure", Attempt: 2,
		DisplayTitle: "cast " + castID, CreatedAt: t0, RunStartedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(5 * time.Minute),
	})
	c := newClient(t, srv, "tok")

	got, err := c.GetRun(ctxT(t), testRepo, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := runstatus.Run{
		ID: run.ID, Attempt: 2, Repository: testRepo, Status: "completed", Conclusion: "failure",
		HTMLURL:   ghapitest.HTMLURL(testRepo, run.ID),
		StartedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(5 * time.Minute),
	}
	if !got.StartedAt.Equal(want.StartedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("times = %v / %v, want %v / %v", got.StartedAt, got.UpdatedAt, want.StartedAt, want.UpdatedAt)
	}
	got.StartedAt, got.UpdatedAt, want.StartedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("GetRun =\n %+v\nwant\n %+v", got, want)
	}
}

func TestGetRunInProgressHasNoConclusion(t *testing.T) {
	srv := newFake(t)
	run := srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "in_progress"})
	got, err := newClient(t, srv, "tok").GetRun(ctxT(t), testRepo, run.ID)
	if err != nil || got.Status != "in_progress" || got.Conclusion != "" {
		t.Fatalf("GetRun = %+v, %v", got, err)
	}
}

func TestListJobsMapsAttemptsLabelsSteps(t *testing.T) {
	srv := newFake(t)
	jobs := []ghapitest.Job{{
		ID: 11, Attempt: 1, Name: "build", Status: "completed", Conclusion: "failure",
		Labels: []string{"ubuntu-latest"}, StartedAt: t0, CompletedAt: t0.Add(time.Minute),
	}}
	for i := range 150 { // more than one page of 100
		jobs = append(jobs, ghapitest.Job{ID: int64(100 + i), Attempt: 2, Name: fmt.Sprintf("shard %d", i), Status: "queued"})
	}
	jobs[1] = ghapitest.Job{
		ID: 100, Attempt: 2, Name: "build", Status: "completed", Conclusion: "success",
		Labels: []string{"self-hosted", "linux", "arm64"}, StartedAt: t0.Add(time.Hour), CompletedAt: t0.Add(time.Hour + 90*time.Second),
		Steps: []ghapitest.Step{
			{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success", StartedAt: t0, CompletedAt: t0},
			{Number: 2, Name: "Build", Status: "in_progress"},
		},
	}
	run := srv.AddRun(ghapitest.Run{Repository: testRepo, Attempt: 2, Jobs: jobs})
	c := newClient(t, srv, "tok")

	got, err := c.ListJobs(ctxT(t), testRepo, run.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 {
		t.Fatalf("jobs = %d, want 150 across pages", len(got))
	}
	if n := len(requestsTo(srv, http.MethodGet, fmt.Sprintf("/runs/%d/attempts/2/jobs", run.ID))); n != 2 {
		t.Errorf("page requests = %d, want 2", n)
	}
	want := runstatus.Job{
		ID: 100, RunID: run.ID, Attempt: 2, Name: "build", Status: "completed", Conclusion: "success",
		Labels: []string{"self-hosted", "linux", "arm64"}, StartedAt: t0.Add(time.Hour), CompletedAt: t0.Add(time.Hour + 90*time.Second),
		HTMLURL: fmt.Sprintf("https://github.com/%s/actions/runs/%d/job/100", testRepo, run.ID),
		Steps: []runstatus.Step{
			{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success", StartedAt: t0, CompletedAt: t0},
			{Number: 2, Name: "Build", Status: "in_progress"},
		},
	}
	if !reflect.DeepEqual(normalize(got[0]), normalize(want)) {
		t.Errorf("job =\n %+v\nwant\n %+v", got[0], want)
	}
	if !got[1].StartedAt.IsZero() || !got[1].CompletedAt.IsZero() {
		t.Errorf("queued job has times %v %v; null must map to zero", got[1].StartedAt, got[1].CompletedAt)
	}

	first, err := c.ListJobs(ctxT(t), testRepo, run.ID, 1)
	if err != nil || len(first) != 1 || first[0].ID != 11 || first[0].Attempt != 1 || first[0].Labels[0] != "ubuntu-latest" {
		t.Errorf("attempt 1 jobs = %+v, %v", first, err)
	}
	latest, err := c.ListJobs(ctxT(t), testRepo, run.ID, 0)
	if err != nil || len(latest) != 150 || latest[0].Attempt != 2 {
		t.Errorf("latest jobs = %d, %v; want the 150 of attempt 2", len(latest), err)
	}
}

func normalize(j runstatus.Job) runstatus.Job {
	j.StartedAt, j.CompletedAt = j.StartedAt.UTC(), j.CompletedAt.UTC()
	j.Steps = slices.Clone(j.Steps)
	for i, s := range j.Steps {
		j.Steps[i].StartedAt, j.Steps[i].CompletedAt = s.StartedAt.UTC(), s.CompletedAt.UTC()
	}
	return j
}

func TestListArtifactsSkipsExpired(t *testing.T) {
	srv := newFake(t)
	var arts []ghapitest.Artifact
	for i := range 120 {
		arts = append(arts, ghapitest.Artifact{ID: int64(500 + i), Name: fmt.Sprintf("a%d", i), SizeInBytes: int64(i * 10), Expired: i%2 == 1})
	}
	run := srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "completed", Conclusion: "success", Artifacts: arts})
	got, err := newClient(t, srv, "tok").ListArtifacts(ctxT(t), testRepo, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Fatalf("artifacts = %d, want the 60 unexpired across pages", len(got))
	}
	want := v1alpha1.Artifact{Name: "a118", SizeBytes: 1180, URL: srv.ArchiveDownloadURL(testRepo, 618)}
	if got[59] != want {
		t.Errorf("last artifact = %+v, want %+v", got[59], want)
	}
}

func TestCancelRun(t *testing.T) {
	srv := newFake(t)
	run := srv.AddRun(ghapitest.Run{Repository: testRepo, Status: "in_progress"})
	c := newClient(t, srv, "tok")

	if err := c.CancelRun(ctxT(t), testRepo, run.ID); err != nil {
		t.Fatalf("first cancel: %v", err)
	}
	if r, _ := srv.Run(run.ID); r.Status != "completed" || r.Conclusion != "cancelled" {
		t.Errorf("run after cancel = %s/%s", r.Status, r.Conclusion)
	}
	if err := c.CancelRun(ctxT(t), testRepo, run.ID); err != nil {
		t.Fatalf("cancel of completed run: %v, want nil", err)
	}
	if completed, err := c.CancelRunIfRunning(ctxT(t), testRepo, run.ID); err != nil || !completed {
		t.Errorf("CancelRunIfRunning of a completed run = %v, %v; want completed", completed, err)
	}
	cs := srv.Cancels()
	if len(cs) != 3 || cs[0].Status != http.StatusAccepted || cs[1].Status != http.StatusConflict {
		t.Errorf("cancels = %+v, want 202 then 409s", cs)
	}

	err := c.CancelRun(ctxT(t), testRepo, 42)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusNotFound || !IsPermanent(err) {
		t.Errorf("cancel of unknown run: %v, want permanent 404", err)
	}
}

func TestMalformedRepositoryIsPermanent(t *testing.T) {
	c := newClient(t, newFake(t), "tok")
	if _, err := c.GetRun(ctxT(t), "no-slash", 1); err == nil || !IsPermanent(err) {
		t.Errorf("err = %v, want permanent", err)
	}
}
