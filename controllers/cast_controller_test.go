package controllers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

const repo = "spell-platform/spells"

var ctx = context.Background()

func createCast(name string, mutate func(*castv1alpha1.Cast)) *castv1alpha1.Cast {
	GinkgoHelper()
	cast := &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       castv1alpha1.CastSpec{Repository: repo, Workflow: "cast.yml", Inputs: map[string]string{"spell": name}},
	}
	if mutate != nil {
		mutate(cast)
	}
	Expect(k8s.Create(ctx, cast)).To(Succeed())
	return cast
}

func attached(runID int64) func(*castv1alpha1.Cast) {
	return func(c *castv1alpha1.Cast) { c.Spec.RunID = ptr.To(runID) }
}

func fetch(cast *castv1alpha1.Cast) func(Gomega) *castv1alpha1.Cast {
	return func(g Gomega) *castv1alpha1.Cast {
		got := &castv1alpha1.Cast{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cast), got)).To(Succeed())
		return got
	}
}

func phase(p castv1alpha1.CastPhase) OmegaMatcher { return HaveField("Status.Phase", p) }

func conditionTrue(t string) OmegaMatcher {
	return WithTransform(func(c *castv1alpha1.Cast) bool { return meta.IsStatusConditionTrue(c.Status.Conditions, t) }, BeTrue())
}

// eventReasons lists the reasons of the Events about a Cast, as `kubectl
// describe` shows them.
func eventReasons(cast *castv1alpha1.Cast) func(Gomega) []string {
	return func(g Gomega) []string {
		var list eventsv1.EventList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(cast.Namespace))).To(Succeed())
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Name == cast.Name {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}
}

var _ = Describe("Cast lifecycle from webhooks", func() {
	t0 := time.Now().UTC().Truncate(time.Second)

	It("moves an attached Cast through Queued, Running and progress to Succeeded, with artifacts and cost", func() {
		// GitHub's REST view lags behind the webhooks throughout, so only
		// the webhooks can move this Cast forward.
		fakeGitHub.AddRun(ghapitest.Run{ID: 5001, Repository: repo, Workflow: "cast.yml", Status: "queued",
			Jobs: []ghapitest.Job{{ID: 1, Name: "cast", Status: "queued", Labels: []string{"ubuntu-latest"}}},
		})
		cast := createCast("lifecycle", attached(5001))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseQueued))

		ev := runEvent{Repo: repo, ID: 5001, Attempt: 1, Started: t0}
		ev.Action, ev.Status, ev.Updated = "in_progress", "in_progress", t0.Add(5*time.Second)
		Expect(sendWebhook("workflow_run", runPayload(ev))).To(Equal(http.StatusAccepted))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseRunning), conditionTrue(castv1alpha1.ConditionRunning)))

		job := jobEvent{Action: "in_progress", Repo: repo, Status: "in_progress", Name: "cast", ID: 1, RunID: 5001, Attempt: 1,
			Started: t0, Steps: []string{"completed", "in_progress"}}
		Expect(sendWebhook("workflow_job", jobPayload(job))).To(Equal(http.StatusAccepted))
		Eventually(fetch(cast)).Should(And(HaveField("Status.Progress", BeEquivalentTo(50)), HaveField("Status.Message", "cast: Step 2")))

		fakeGitHub.UpdateRun(5001, func(r *ghapitest.Run) {
			r.Jobs[0].Status, r.Jobs[0].Conclusion = "completed", "success"
			r.Jobs[0].StartedAt, r.Jobs[0].CompletedAt = t0, t0.Add(61*time.Second)
			r.Artifacts = []ghapitest.Artifact{{ID: 77, Name: "report", SizeInBytes: 2048}}
		})
		ev.Action, ev.Status, ev.Conclusion, ev.Updated = "completed", "completed", "success", t0.Add(90*time.Second)
		Expect(sendWebhook("workflow_run", runPayload(ev))).To(Equal(http.StatusAccepted))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))

		got := fetch(cast)(Default)
		Expect(got.Status.Progress).To(BeEquivalentTo(100))
		Expect(got.Status.Conclusion).To(Equal("success"))
		Expect(got.Status.DurationMillis).To(BeEquivalentTo(90000))
		Expect(got.Status.RunURL).To(Equal("https://github.com/" + repo + "/actions/runs/5001"))
		Expect(got.Status.Artifacts).To(ConsistOf(HaveField("Name", "report")))
		Expect(got.Status.Artifacts[0].SizeBytes).To(BeEquivalentTo(2048))
		Expect(got.Status.CostCents).To(BeEquivalentTo(2), "61 s bills 2 minutes at 0.8 cents")
		Expect(got.Finalizers).To(ContainElement(Finalizer))
		Eventually(eventReasons(cast)).Should(ContainElements("Started", "Succeeded"))
	})

	It("marks a failed run Failed with a Warning event", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5002, Repository: repo, Workflow: "cast.yml", Status: "queued"})
		cast := createCast("failing", attached(5002))
		ev := runEvent{Action: "completed", Repo: repo, ID: 5002, Attempt: 1, Status: "completed", Conclusion: "failure",
			Started: t0, Updated: t0.Add(time.Minute)}
		deliver("workflow_run", runPayload(ev))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
		Expect(fetch(cast)(Default).Status.Message).To(Equal("run finished as failure"))
		Eventually(eventReasons(cast)).Should(ContainElement("Failed"))
	})

	It("ends in the final state whatever order and however often events arrive, and follows a re-run", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5003, Repository: repo, Workflow: "cast.yml", Status: "queued"})
		cast := createCast("reordered", attached(5003))
		base := runEvent{Repo: repo, ID: 5003, Attempt: 1, Started: t0}
		completed, inProgress, requested := base, base, base
		completed.Action, completed.Status, completed.Conclusion, completed.Updated = "completed", "completed", "success", t0.Add(time.Minute)
		inProgress.Action, inProgress.Status, inProgress.Updated = "in_progress", "in_progress", t0.Add(time.Second)
		requested.Action, requested.Status, requested.Updated = "requested", "requested", t0
		for _, e := range []runEvent{completed, inProgress, completed, requested, inProgress} {
			deliver("workflow_run", runPayload(e))
		}
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))
		Consistently(fetch(cast), "1s").Should(phase(castv1alpha1.PhaseSucceeded))

		rerun := base
		rerun.Attempt, rerun.Action, rerun.Status, rerun.Updated = 2, "requested", "requested", t0.Add(time.Hour)
		Expect(sendWebhook("workflow_run", runPayload(rerun))).To(Equal(http.StatusAccepted))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseQueued), HaveField("Status.RunAttempt", BeEquivalentTo(2))))
		Expect(fetch(cast)(Default).Status.Artifacts).To(BeEmpty())
		// A straggler from attempt 1 changes nothing.
		Expect(sendWebhook("workflow_run", runPayload(inProgress))).To(Equal(http.StatusAccepted))
		Consistently(fetch(cast), "1s").Should(phase(castv1alpha1.PhaseQueued))
	})

	// Each delivery names (where it can) the run of a Cast that is
	// waiting for it and says that run succeeded: a receiver that let it
	// through would finish that Cast.
	DescribeTable("answers bad or irrelevant deliveries without touching any Cast",
		func(event string, payload func(id int64) []byte, sign bool, want int) {
			id := 5300 + time.Now().UnixNano()%100000
			fakeGitHub.AddRun(ghapitest.Run{ID: id, Repository: repo, Workflow: "cast.yml", Status: "queued"})
			cast := createCast(fmt.Sprintf("untouched-%d", id), attached(id))
			Eventually(fetch(cast)).Should(HaveField("Status.Phase", Not(BeEmpty())))
			body := payload(id)
			req, err := http.NewRequest(http.MethodPost, webhookURL, bytesReader(body))
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("X-GitHub-Event", event)
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bad-%d", time.Now().UnixNano()))
			if sign {
				req.Header.Set("X-Hub-Signature-256", signature(body))
			} else {
				req.Header.Set("X-Hub-Signature-256", "sha256=00")
			}
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(want))
			Consistently(fetch(cast), "1500ms").Should(And(
				HaveField("Status.Phase", Not(Equal(castv1alpha1.PhaseSucceeded))),
				HaveField("Status.Conclusion", BeEmpty())), "the delivery changed the Cast")
		},
		Entry("wrong signature", "workflow_run", func(id int64) []byte { return succeeded(id) }, false, http.StatusUnauthorized),
		Entry("invalid JSON", "workflow_run", func(id int64) []byte { return succeeded(id)[:40] }, true, http.StatusBadRequest),
		Entry("no workflow_run object", "workflow_run", func(int64) []byte { return []byte(`{"action":"completed"}`) }, true, http.StatusBadRequest),
		Entry("ping", "ping", func(int64) []byte { return []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`) }, true, http.StatusOK),
		Entry("a run no Cast tracks", "workflow_run", func(id int64) []byte { return succeeded(id + 1_000_000) }, true, http.StatusAccepted),
	)
})

// succeeded is a workflow_run delivery saying run id completed with success.
func succeeded(id int64) []byte {
	now := time.Now()
	return runPayload(runEvent{Action: "completed", Repo: repo, ID: id, Attempt: 1, Status: "completed",
		Conclusion: "success", Started: now, Updated: now})
}
