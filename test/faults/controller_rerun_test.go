package faults

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

var _ = Describe("Controller killed while re-running", Label("controller"), func() {
	DescribeTable("between recording the request and calling, then between calling and recording: GitHub re-runs exactly once and the new attempt is followed", func(ctx SpecContext, id int64, failedOnly bool) {
		// The endpoint the request goes to, and the one it must not.
		endpoint, other := "/rerun", "/rerun-failed-jobs"
		if failedOnly {
			endpoint, other = other, endpoint
		}
		op := newOperator()
		ns := newNamespace("rerun-kill")
		op.addRuns(id, 1, "completed", func(int) string { return "failure" })
		// The first re-run request hangs before it reaches GitHub; the
		// proxy kills the process that gets GitHub's acceptance.
		op.gh.InjectFault(ghapitest.Fault{Method: http.MethodPost, PathContains: endpoint, Times: 1, Hang: true})
		ks := newKillSwitchOn(op.gh.URL, endpoint)
		op.apiURL = ks.URL()
		op.start()
		c := kubetest.NewCast(ns, "rerun", id)
		Expect(k8s.Create(ctx, c)).To(Succeed())
		key := client.ObjectKeyFromObject(c)
		get := func(g Gomega) *castv1alpha1.Cast {
			got := &castv1alpha1.Cast{}
			g.Expect(k8s.Get(ctx, key, got)).To(Succeed())
			return got
		}
		Eventually(get).Should(And(HaveField("Status.Phase", castv1alpha1.PhaseFailed), WithTransform(
			func(c *castv1alpha1.Cast) bool { return c.Status.Concluded() }, BeTrue())))

		By("the first process records the request and dies while its call hangs")
		got := get(Default)
		patch := client.MergeFrom(got.DeepCopy())
		got.Spec.Rerun = &castv1alpha1.RerunRequest{RequestedBy: "faults-user", AfterAttempt: 1, FailedOnly: failedOnly}
		Expect(k8s.Patch(ctx, got, patch)).To(Succeed())
		Eventually(func() int { return len(postsTo(op, endpoint)) }).Should(Equal(1))
		Expect(get(Default).Status.Rerun).To(HaveField("State", castv1alpha1.RerunRerunning))
		op.proc.Kill()
		Expect(op.gh.Reruns()).To(BeEmpty(), "the hung request never reached GitHub")

		By("the second process asks GitHub and dies before it reads the answer")
		op.start()
		ks.arm(op.proc)
		Eventually(ks.fired).WithTimeout(time.Minute).Should(BeClosed())
		Expect(get(Default).Status.RunAttempt).To(BeEquivalentTo(1), "killed before it recorded attempt 2")

		By("the third process finds attempt 2 and asks nothing")
		op.start()
		third := time.Now()
		Eventually(get).Should(And(HaveField("Status.RunAttempt", BeEquivalentTo(2)), HaveField("Status.Phase", castv1alpha1.PhaseQueued),
			HaveField("Status.Rerun.State", castv1alpha1.RerunRequested)))
		figure("the third process followed attempt 2 after", time.Since(third).Round(100*time.Millisecond).String())
		Consistently(func() int { return len(op.gh.Reruns()) }, 3*resync).Should(Equal(1), "re-runs GitHub carried out")
		Expect(op.gh.Reruns()).To(ConsistOf(HaveField("FailedOnly", failedOnly)))
		figure("re-run requests sent (one hung, never answered)", len(postsTo(op, endpoint)))
		Expect(postsTo(op, endpoint)).To(HaveLen(2))
		Expect(postsTo(op, other)).To(BeEmpty())

		By("attempt 2 succeeding, seen by resync alone, with attempt 1's failure kept")
		op.gh.UpdateRun(id, func(r *ghapitest.Run) { finishRun(r, "success") })
		Eventually(get).Should(And(HaveField("Status.Phase", castv1alpha1.PhaseSucceeded),
			HaveField("Status.PreviousAttempts", ConsistOf(And(HaveField("Attempt", BeEquivalentTo(1)),
				HaveField("Phase", castv1alpha1.PhaseFailed), HaveField("Conclusion", "failure"))))))
	},
		Entry("re-run all jobs", int64(7_900_000), false),
		Entry("re-run failed jobs", int64(7_900_100), true),
	)
})
