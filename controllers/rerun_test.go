package controllers

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// requestRerun sets spec.rerun on the Cast, as `kubectl patch` would.
func requestRerun(cast *castv1alpha1.Cast, afterAttempt int64, failedOnly bool) error {
	got := &castv1alpha1.Cast{}
	if err := k8s.Get(ctx, keyOf(cast), got); err != nil {
		return err
	}
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Rerun = &castv1alpha1.RerunRequest{RequestedBy: whoami(), AfterAttempt: afterAttempt, FailedOnly: failedOnly}
	return k8s.Patch(ctx, got, patch)
}

// rerunPosts counts the re-run requests that left for GitHub about a run,
// answered or not (one hanging until its process died included).
func rerunPosts(runID int64) int {
	n := 0
	for _, r := range fakeGitHub.Requests() {
		if r.Method == http.MethodPost && (strings.HasSuffix(r.Path, fmt.Sprintf("/runs/%d/rerun", runID)) ||
			strings.HasSuffix(r.Path, fmt.Sprintf("/runs/%d/rerun-failed-jobs", runID))) {
			n++
		}
	}
	return n
}

// acceptedReruns lists the re-runs GitHub carried out on a run.
func acceptedReruns(runID int64) []ghapitest.Rerun {
	var out []ghapitest.Rerun
	for _, r := range fakeGitHub.Reruns() {
		if r.RunID == runID && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// failedRun stores a run that failed, created an hour ago (or at created),
// with a job that succeeded and one that failed.
func failedRun(id int64, created time.Time) {
	started := created.Add(time.Minute)
	fakeGitHub.AddRun(ghapitest.Run{ID: id, Repository: repo, Workflow: "cast.yml", Status: "completed", Conclusion: "failure",
		CreatedAt: created, RunStartedAt: started, UpdatedAt: started.Add(5 * time.Minute),
		Jobs: []ghapitest.Job{
			{ID: id*10 + 1, Name: "build", Status: "completed", Conclusion: "success", Labels: []string{"ubuntu-latest"},
				StartedAt: started, CompletedAt: started.Add(2 * time.Minute)},
			{ID: id*10 + 2, Name: "test", Status: "completed", Conclusion: "failure", Labels: []string{"ubuntu-latest"},
				StartedAt: started, CompletedAt: started.Add(5 * time.Minute)},
		}})
}

// finishAttempt moves a run's latest attempt through in_progress to
// success on the fake, as GitHub reports it; the Cast learns by resync.
func finishAttempt(cast *castv1alpha1.Cast, id int64) {
	GinkgoHelper()
	now := time.Now().UTC().Truncate(time.Second)
	fakeGitHub.UpdateRun(id, func(r *ghapitest.Run) {
		r.Status, r.RunStartedAt, r.UpdatedAt = "in_progress", now, now.Add(time.Second)
	})
	Eventually(fetch(cast)).WithTimeout(10 * time.Second).Should(phase(castv1alpha1.PhaseRunning))
	fakeGitHub.UpdateRun(id, func(r *ghapitest.Run) {
		r.Status, r.Conclusion, r.UpdatedAt = "completed", "success", now.Add(3*time.Second)
		for i := range r.Jobs {
			if j := &r.Jobs[i]; j.Attempt == r.Attempt && j.Status != "completed" {
				j.Status, j.Conclusion, j.StartedAt, j.CompletedAt = "completed", "success", now, now.Add(61*time.Second)
			}
		}
	})
	Eventually(fetch(cast)).WithTimeout(10 * time.Second).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))
}

// keptFailure: status still tells how attempt 1 ended.
func keptFailure(id int64) OmegaMatcher {
	return HaveField("Status.PreviousAttempts", ConsistOf(And(
		HaveField("Attempt", BeEquivalentTo(1)), HaveField("Phase", castv1alpha1.PhaseFailed),
		HaveField("Conclusion", "failure"), HaveField("StartedAt", Not(BeNil())), HaveField("FinishedAt", Not(BeNil())),
		HaveField("URL", ghapitest.HTMLURL(repo, id)+"/attempts/1"))))
}

func invalid(substr string) OmegaMatcher {
	return And(WithTransform(apierrors.IsInvalid, BeTrue()), MatchError(ContainSubstring(substr)))
}

var _ = Describe("Re-run", func() {
	DescribeTable("after Failed: GitHub is asked exactly once, and the new attempt is followed to Succeeded with the old outcome kept",
		func(id int64, failedOnly bool, name string, wantQueued int) {
			failedRun(id, time.Now().Add(-time.Hour))
			cast := createCast(name, attached(id))
			Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
			Expect(fetch(cast)(Default).Status.CostCents).To(BeEquivalentTo(6), "attempt 1: 2 + 5 minutes at 0.8 cents")

			Expect(requestRerun(cast, 1, failedOnly)).To(Succeed())
			Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseQueued), HaveField("Status.RunAttempt", BeEquivalentTo(2)),
				HaveField("Status.Rerun", And(Not(BeNil()), HaveField("State", castv1alpha1.RerunRequested),
					HaveField("RequestedBy", whoami()), HaveField("AfterAttempt", BeEquivalentTo(1)))),
				HaveField("Status.Conclusion", BeEmpty()), keptFailure(id)))
			Expect(acceptedReruns(id)).To(ConsistOf(HaveField("FailedOnly", failedOnly)))
			run, _ := fakeGitHub.Run(id)
			queued := 0
			for _, j := range run.Jobs {
				if j.Attempt == 2 && j.Status == "queued" {
					queued++
				}
			}
			Expect(queued).To(Equal(wantQueued), "jobs the re-run runs again")
			Eventually(eventReasons(cast)).Should(ContainElement(castv1alpha1.EventReasonRerun))

			finishAttempt(cast, id)
			got := fetch(cast)(Default)
			Expect(got).To(keptFailure(id))
			Expect(got.Status.Conclusion).To(Equal("success"))
			Expect(got.Status.Jobs).To(HaveEach(HaveField("Attempt", BeEquivalentTo(2))))
			Consistently(func() int { return rerunPosts(id) }, "2s").Should(Equal(1))
		},
		Entry("all jobs", int64(7100), false, "rerun-all", 2),
		Entry("failed jobs only", int64(7200), true, "rerun-failed", 1),
	)

	It("across a controller restart between recording the request and calling GitHub: asks exactly once", func() {
		const id = 7300
		failedRun(id, time.Now().Add(-time.Hour))
		cast := createCast("rerun-restart-before-call", attached(id))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
		// The first process records the request and sends; its request
		// hangs before it reaches GitHub, and the process stops.
		fakeGitHub.InjectFault(ghapitest.Fault{Method: http.MethodPost, PathContains: fmt.Sprintf("/runs/%d/rerun", id), Times: 1, Hang: true})
		DeferCleanup(fakeGitHub.ClearFaults)
		Expect(requestRerun(cast, 1, false)).To(Succeed())
		Eventually(func() int { return rerunPosts(id) }).Should(Equal(1))
		Expect(fetch(cast)(Default).Status.Rerun).To(HaveField("State", castv1alpha1.RerunRerunning))
		stopTheManager()
		Expect(acceptedReruns(id)).To(BeEmpty())

		startManager()
		Eventually(fetch(cast)).Should(And(HaveField("Status.RunAttempt", BeEquivalentTo(2)), phase(castv1alpha1.PhaseQueued)))
		Consistently(func() int { return len(acceptedReruns(id)) }, "2s").Should(Equal(1))
		Expect(rerunPosts(id)).To(Equal(2), "the lost request and the one that re-ran")
		finishAttempt(cast, id)
		Expect(fetch(cast)(Default)).To(keptFailure(id))
	})

	It("across a controller restart after GitHub re-ran but before status said so: never asks again", func() {
		const id = 7400
		failedRun(id, time.Now().Add(-time.Hour))
		cast := createCast("rerun-restart-after-call", attached(id))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
		fakeGitHub.InjectFault(ghapitest.Fault{Method: http.MethodPost, PathContains: fmt.Sprintf("/runs/%d/rerun", id), Times: 1, Hang: true})
		DeferCleanup(fakeGitHub.ClearFaults)
		Expect(requestRerun(cast, 1, false)).To(Succeed())
		Eventually(func() int { return rerunPosts(id) }).Should(Equal(1))
		// GitHub did it (its answer is what got lost): the run is at
		// attempt 2 when the process stops.
		fakeGitHub.UpdateRun(id, func(r *ghapitest.Run) {
			r.Attempt, r.Status, r.Conclusion, r.UpdatedAt = 2, "queued", "", time.Now().UTC().Truncate(time.Second)
		})
		stopTheManager()
		startManager()
		Eventually(fetch(cast)).Should(And(HaveField("Status.RunAttempt", BeEquivalentTo(2)), phase(castv1alpha1.PhaseQueued),
			HaveField("Status.Rerun.State", castv1alpha1.RerunRequested)))
		Consistently(func() int { return rerunPosts(id) }, "2s").Should(Equal(1))
		Expect(fetch(cast)(Default)).To(keptFailure(id))
	})
})

var _ = Describe("Re-run, bad input", func() {
	It("refuses at admission to re-run a Cast still running, and never calls GitHub", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 7500, Repository: repo, Workflow: "cast.yml", Status: "in_progress"})
		cast := createCast("rerun-running", attached(7500))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseRunning))
		Expect(requestRerun(cast, 1, false)).To(invalid("only a finished run can be re-run: cancel it first, or wait for it to finish"))
		Expect(rerunPosts(7500)).To(BeZero())
	})

	It("refuses at admission to re-run an attempt that is not the latest", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 7600, Repository: repo, Workflow: "cast.yml", Status: "completed", Conclusion: "failure", Attempt: 2})
		cast := createCast("rerun-old-attempt", attached(7600))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), HaveField("Status.RunAttempt", BeEquivalentTo(2))))
		Expect(requestRerun(cast, 1, false)).To(invalid("spec.rerun.afterAttempt must be the latest attempt of the run"))
		Expect(rerunPosts(7600)).To(BeZero())
	})

	It("refuses at admission to re-run a Cast that never had a run", func() {
		cast := createCast("rerun-no-run", func(c *castv1alpha1.Cast) {
			c.Spec.Cancel = &castv1alpha1.CancelRequest{RequestedBy: whoami()}
		})
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseCancelled), conditionTrue(castv1alpha1.ConditionFailed)))
		Expect(requestRerun(cast, 1, false)).To(invalid("the Cast has no workflow run to re-run: create a new Cast from its spec instead"))
	})

	It("refuses a re-run request in a new Cast, as a spec copied from an old one would carry", func() {
		cast := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Name: "rerun-at-create", Namespace: "default"},
			Spec: castv1alpha1.CastSpec{Repository: repo, Workflow: "cast.yml",
				Rerun: &castv1alpha1.RerunRequest{RequestedBy: whoami(), AfterAttempt: 1}}}
		Expect(k8s.Create(ctx, cast)).To(invalid("spec.rerun cannot be set at creation"))
	})

	It("says in GitHub's words why a run over a month old cannot be re-run, and asks once", func() {
		const id = 7700
		failedRun(id, time.Now().Add(-40*24*time.Hour))
		cast := createCast("rerun-too-old", attached(id))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
		Expect(requestRerun(cast, 1, false)).To(Succeed())
		Eventually(fetch(cast)).Should(HaveField("Status.Rerun", And(Not(BeNil()), HaveField("State", castv1alpha1.RerunRefused),
			HaveField("Message", "GitHub refused to re-run attempt 1: "+ghapitest.MsgRerunTooOld))))
		Eventually(eventReasons(cast)).Should(ContainElement(castv1alpha1.EventReasonRerunRefused))
		Consistently(func() int { return rerunPosts(id) }, "3s").Should(Equal(1))
		Expect(fetch(cast)(Default)).To(And(phase(castv1alpha1.PhaseFailed), HaveField("Status.RunAttempt", BeEquivalentTo(1))))
	})

	It("refuses at admission to rewrite or withdraw a re-run request", func() {
		const id = 7800
		failedRun(id, time.Now().Add(-time.Hour))
		cast := createCast("rerun-rewrite", attached(id))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseFailed))
		Expect(requestRerun(cast, 1, false)).To(Succeed())
		got := fetch(cast)(Default)
		patch := client.MergeFrom(got.DeepCopy())
		got.Spec.Rerun.FailedOnly = true
		Expect(k8s.Patch(ctx, got, patch)).To(invalid("spec.rerun cannot be removed or changed"))
		got = fetch(cast)(Default)
		patch = client.MergeFrom(got.DeepCopy())
		got.Spec.Rerun = nil
		Expect(k8s.Patch(ctx, got, patch)).To(invalid("spec.rerun cannot be removed or changed"))
	})
})
