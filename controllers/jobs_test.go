package controllers

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// deleteWhenDone removes the spec's Cast once it ends, so the suite's
// controller does not keep resyncing it for the specs after.
func deleteWhenDone(cast *castv1alpha1.Cast) {
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, cast))).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, keyOf(cast), &castv1alpha1.Cast{})) }).
			WithTimeout(30 * time.Second).Should(BeTrue())
	})
}

// jobsOf reads the Cast's jobs from the API server.
func jobsOf(cast *castv1alpha1.Cast) func(Gomega) []castv1alpha1.JobStatus {
	return func(g Gomega) []castv1alpha1.JobStatus { return fetch(cast)(g).Status.Jobs }
}

// equalJobs compares jobs field by field, times as instants, and shows
// the difference when they are not equal.
func equalJobs(want []castv1alpha1.JobStatus) OmegaMatcher {
	return WithTransform(func(got []castv1alpha1.JobStatus) string { return cmp.Diff(want, got) }, BeEmpty())
}

var _ = Describe("Jobs and steps in status", func() {
	It("hold the same jobs and steps whatever order and however often GitHub delivers, and a re-run starts clean", func() {
		const firstRun = 170101
		jobsOfRun := func(runID int64) []fixtureJob {
			return []fixtureJob{
				{ID: runID*100 + 1, RunID: runID, Attempt: 1, Name: "lint", Final: "completed.failure.with-organization"},
				{ID: runID*100 + 2, RunID: runID, Attempt: 1, Name: "test (ubuntu-latest, 3.12)", Final: "completed.success.with-organization"},
				{ID: runID*100 + 3, RunID: runID, Attempt: 1, Name: "deploy", Final: "completed.success.with-organization", Waits: true, Unfinished: true},
			}
		}
		// Four runs get the same deliveries, in four orders: GitHub's,
		// reversed, and two shuffles; a third of them twice. Two jobs
		// finish; the third stops with its middle step running, just
		// after the delivery saying it was about to start.
		orders := []func([][]byte){
			func([][]byte) {},
			slices.Reverse[[][]byte],
			func(d [][]byte) {
				rand.New(rand.NewPCG(1, 17)).Shuffle(len(d), func(i, k int) { d[i], d[k] = d[k], d[i] })
			},
			func(d [][]byte) {
				rand.New(rand.NewPCG(2, 17)).Shuffle(len(d), func(i, k int) { d[i], d[k] = d[k], d[i] })
			},
		}
		t0 := time.Now().UTC().Truncate(time.Second)
		var casts []*castv1alpha1.Cast
		var want []castv1alpha1.JobStatus
		for i, order := range orders {
			runID := int64(firstRun + i)
			fakeGitHub.AddRun(ghapitest.Run{ID: runID, Repository: repo, Workflow: "cast.yml", Status: "in_progress",
				RunStartedAt: t0, UpdatedAt: t0})
			cast := createCast(fmt.Sprintf("jobs-order-%d", i), attached(runID))
			deleteWhenDone(cast)
			casts = append(casts, cast)
			var deliveries [][]byte
			want = nil
			for _, j := range jobsOfRun(runID) {
				life := j.life()
				deliveries = append(deliveries, life...)
				want = append(want, jobStatus(life[len(life)-1]))
			}
			for k := 0; k < len(deliveries); k += 3 {
				deliveries = append(deliveries, deliveries[k])
			}
			order(deliveries)
			for _, d := range deliveries {
				deliver("workflow_job", d)
			}
			// Whatever the order, status ends as GitHub's last word on
			// each job says, read from the delivery itself.
			Eventually(jobsOf(cast)).Should(equalJobs(want))
		}
		Expect(want[0].Steps).To(ContainElement(And(HaveField("Name", "Run yarn run format-check"),
			HaveField("Conclusion", "failure"), HaveField("CompletedAt", Not(BeNil())))), "the failed step is compared with its times")
		for _, cast := range casts {
			got := jobsOf(cast)(Default)
			runID := *cast.Spec.RunID
			Consistently(jobsOf(cast), "1s").Should(equalJobs(got), "an older delivery undid a newer one")
			Expect(got).To(HaveLen(3))
			Expect(got[0].ID).To(Equal(runID*100 + 1))
			Expect(got[0].StepsCompleted).To(BeEquivalentTo(12))
			Expect(got[2].Steps[4]).To(HaveField("Status", "in_progress"))
		}

		// Attempt 1 fails; GitHub runs it again with new job IDs.
		cast, runID := casts[0], int64(firstRun)
		attempt1 := jobsOf(cast)(Default)
		failed := runEvent{Action: "completed", Repo: repo, ID: runID, Attempt: 1, Status: "completed", Conclusion: "failure",
			Started: t0, Updated: t0.Add(time.Minute)}
		fakeGitHub.UpdateRun(runID, func(r *ghapitest.Run) {
			r.Status, r.Conclusion, r.UpdatedAt = "completed", "failure", failed.Updated
		})
		deliver("workflow_run", runPayload(failed))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseFailed))
		Expect(jobsOf(cast)(Default)).To(equalJobs(attempt1), "completion changed the jobs")

		again := fixtureJob{ID: runID*100 + 11, RunID: runID, Attempt: 2, Name: "lint", Final: "completed.success.with-organization"}
		life := again.life()
		fakeGitHub.UpdateRun(runID, func(r *ghapitest.Run) {
			r.Attempt, r.Status, r.Conclusion, r.UpdatedAt = 2, "queued", "", t0.Add(2*time.Minute)
		})
		deliver("workflow_job", life[0])
		Eventually(jobsOf(cast)).Should(equalJobs([]castv1alpha1.JobStatus{jobStatus(life[0])}), "attempt 2 did not start clean")
		rerun := runEvent{Action: "requested", Repo: repo, ID: runID, Attempt: 2, Status: "queued", Started: t0, Updated: t0.Add(2 * time.Minute)}
		deliver("workflow_run", runPayload(rerun))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseQueued), HaveField("Status.RunAttempt", BeEquivalentTo(2))))

		// A straggler of attempt 1 changes nothing; attempt 2's first
		// step starting shows at once, with its time.
		straggler := jobsOfRun(runID)[1].life()
		Expect(sendWebhook("workflow_job", straggler[len(straggler)-1])).To(Equal(http.StatusAccepted))
		Consistently(jobsOf(cast), "1s").Should(equalJobs([]castv1alpha1.JobStatus{jobStatus(life[0])}))
		for _, d := range life[1:3] { // picked up, then its first step starts
			deliver("workflow_job", d)
			Eventually(jobsOf(cast)).Should(equalJobs([]castv1alpha1.JobStatus{jobStatus(d)}))
		}
		got := fetch(cast)(Default)
		Expect(got.Status.Jobs[0].Steps[0]).To(And(HaveField("Status", "in_progress"), HaveField("StartedAt", Not(BeNil()))))
		Expect(got.Status.Message).To(Equal("lint: Set up job"))
	})

	It("keep every job of a 300-job run within the step bounds and far below etcd's object size", func() {
		const runID, jobs, stepsPerJob = 170300, 300, 10
		t0 := time.Now().UTC().Truncate(time.Second)
		long := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
		run := ghapitest.Run{ID: runID, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0, UpdatedAt: t0}
		for i := range jobs {
			j := ghapitest.Job{ID: runID*1000 + int64(i), Name: long(fmt.Sprintf("matrix (shard %03d) ", i), 300),
				Status: "in_progress", StartedAt: t0}
			for range 10 {
				j.Labels = append(j.Labels, long("self-hosted-label-", 100))
			}
			for k := range stepsPerJob {
				s := ghapitest.Step{Number: int64(k + 1), Name: long(fmt.Sprintf("step %d ", k+1), 300), Status: "queued"}
				if k < stepsPerJob/2 {
					s.Status, s.Conclusion, s.StartedAt, s.CompletedAt = "completed", "success", t0, t0.Add(time.Second)
				} else if k == stepsPerJob/2 {
					s.Status, s.StartedAt = "in_progress", t0.Add(time.Second)
				}
				j.Steps = append(j.Steps, s)
			}
			run.Jobs = append(run.Jobs, j)
		}
		fakeGitHub.AddRun(run)
		cast := createCast("jobs-300", attached(runID))
		deleteWhenDone(cast)
		Eventually(jobsOf(cast)).WithTimeout(30 * time.Second).Should(HaveLen(jobs))

		got := fetch(cast)(Default)
		kept, omitted := 0, 0
		for _, j := range got.Status.Jobs {
			kept += len(j.Steps)
			omitted += int(j.StepsOmitted)
			Expect(len(j.Steps) + int(j.StepsOmitted)).To(Equal(stepsPerJob))
			Expect(j.StepsCompleted).To(BeEquivalentTo(stepsPerJob / 2))
			Expect(j.StepsStarted).To(BeEquivalentTo(stepsPerJob/2 + 1))
			Expect(len(j.Name)).To(BeNumerically("<=", 256))
			Expect(j.Labels).To(HaveLen(8))
			Expect(j.HTMLURL).To(HavePrefix("https://github.com/" + repo + "/actions/runs/"))
		}
		Expect(got.Status.JobsOmitted).To(BeZero())
		Expect(kept).To(Equal(castv1alpha1.MaxStepsPerCast))
		Expect(omitted).To(Equal(jobs*stepsPerJob - castv1alpha1.MaxStepsPerCast))
		Expect(got.Status.Progress).To(BeEquivalentTo(50), "each job half done")

		// A webhook about a job whose steps were left out completes it,
		// and it keeps none.
		last := got.Status.Jobs[jobs-1]
		Expect(last.Steps).To(BeEmpty())
		done := jobEvent{Action: "completed", Repo: repo, Status: "completed", Conclusion: "success", Name: last.Name,
			ID: last.ID, RunID: runID, Attempt: 1, Started: t0, Completed: t0.Add(time.Minute),
			Steps: slices.Repeat([]string{"completed"}, stepsPerJob)}
		deliver("workflow_job", jobPayload(done))
		Eventually(func(g Gomega) castv1alpha1.JobStatus { return jobsOf(cast)(g)[jobs-1] }).Should(And(
			HaveField("Status", "completed"), HaveField("Steps", BeEmpty()),
			HaveField("StepsCompleted", BeEquivalentTo(stepsPerJob)), HaveField("StepsOmitted", BeEquivalentTo(stepsPerJob))))

		raw, err := json.Marshal(fetch(cast)(Default))
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("Cast with 300 jobs", fmt.Sprintf("%d KiB of JSON, managedFields included", len(raw)>>10))
		GinkgoWriter.Printf("Cast with %d jobs of %d steps: %d KiB\n", jobs, stepsPerJob, len(raw)>>10)
		Expect(len(raw)).To(BeNumerically("<", 1536<<10), "the Cast must fit etcd's 1.5 MiB")
	})
})
