package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// whoami is the suite's user as the API server knows it, the name a
// request must carry where the requester policy is installed.
func whoami() string {
	GinkgoHelper()
	review := &authenticationv1.SelfSubjectReview{}
	Expect(k8s.Create(ctx, review)).To(Succeed())
	Expect(review.Status.UserInfo.Username).NotTo(BeEmpty())
	return review.Status.UserInfo.Username
}

// requestCancel sets spec.cancel on the Cast, as `kubectl patch` would.
func requestCancel(cast *castv1alpha1.Cast, attempt int64) error {
	got := &castv1alpha1.Cast{}
	if err := k8s.Get(ctx, keyOf(cast), got); err != nil {
		return err
	}
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Cancel = &castv1alpha1.CancelRequest{RequestedBy: whoami(), Attempt: attempt}
	return k8s.Patch(ctx, got, patch)
}

// cancelsOf counts the cancel requests GitHub received for a run, whatever
// it answered.
func cancelsOf(runID int64) int {
	n := 0
	for _, c := range fakeGitHub.Cancels() {
		if c.RunID == runID {
			n++
		}
	}
	return n
}

func conditionOf(c *castv1alpha1.Cast, typ string) metav1.Condition {
	if cond := meta.FindStatusCondition(c.Status.Conditions, typ); cond != nil {
		return *cond
	}
	return metav1.Condition{}
}

// cancelledBy: the Cast ended Cancelled at a user's request, concluded,
// with the request and its outcome recorded.
func cancelledBy(user string) OmegaMatcher {
	return And(
		phase(castv1alpha1.PhaseCancelled),
		conditionTrue(castv1alpha1.ConditionFailed),
		WithTransform(func(c *castv1alpha1.Cast) metav1.Condition { return conditionOf(c, castv1alpha1.ConditionFailed) },
			And(HaveField("Reason", castv1alpha1.ReasonCancelled), HaveField("Message", ContainSubstring("at the request of "+user)))),
		HaveField("Status.Cancel", And(Not(BeNil()),
			HaveField("RequestedBy", user), HaveField("Result", castv1alpha1.CancelResultCancelled),
			HaveField("RequestedAt.Time", BeTemporally("~", time.Now(), time.Minute)))),
	)
}

var _ = Describe("Cancel without deleting", func() {
	t0 := time.Now().UTC().Truncate(time.Second)

	It("asked at creation: nothing is ever dispatched", func() {
		user := whoami()
		cast := createCast("cancel-at-create", func(c *castv1alpha1.Cast) {
			c.Spec.Cancel = &castv1alpha1.CancelRequest{RequestedBy: user}
		})
		Eventually(fetch(cast)).Should(cancelledBy(user))
		got := fetch(cast)(Default)
		Expect(conditionOf(got, castv1alpha1.ConditionDispatched)).To(And(
			HaveField("Status", metav1.ConditionFalse), HaveField("Reason", castv1alpha1.ReasonCancelledBeforeDispatch)))
		Expect(got.Status.Message).To(ContainSubstring("nothing was dispatched"))
		Expect(got.Status.RunID).To(BeZero())
		Consistently(func() []ghapitest.Dispatch { return dispatchesFor(got) }, "2s").Should(BeEmpty())
		Eventually(eventReasons(cast)).Should(ContainElement(castv1alpha1.ReasonCancelled))
	})

	It("asked while the dispatch waits for credentials: nothing is dispatched once they come", func() {
		cast := createCast("cancel-before-dispatch", func(c *castv1alpha1.Cast) {
			c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "cancel-later-token"}
		})
		Eventually(func(g Gomega) string { return conditionOf(fetch(cast)(g), castv1alpha1.ConditionDispatched).Reason }).
			Should(Equal(castv1alpha1.ReasonDispatchFailed))
		Expect(requestCancel(cast, 1)).To(Succeed())
		Eventually(fetch(cast)).Should(cancelledBy(whoami()))

		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cancel-later-token", Namespace: "default"},
			StringData: map[string]string{"token": operatorToken}})).To(Succeed())
		got := fetch(cast)(Default)
		Consistently(func() []ghapitest.Dispatch { return dispatchesFor(got) }, "3s").Should(BeEmpty())
		Expect(fetch(cast)(Default)).To(phase(castv1alpha1.PhaseCancelled))
	})

	It("asked while queued: GitHub is asked to cancel exactly once, and the Cast keeps its record", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 6100, Repository: repo, Workflow: "cast.yml", Status: "queued",
			Jobs: []ghapitest.Job{{ID: 61001, Name: "cast", Status: "queued", Labels: []string{"ubuntu-latest"}}}})
		cast := createCast("cancel-queued", attached(6100))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseQueued))
		Expect(requestCancel(cast, 1)).To(Succeed())
		Eventually(fetch(cast)).Should(cancelledBy(whoami()))
		Consistently(func() int { return cancelsOf(6100) }, "2s").Should(Equal(1))
		run, _ := fakeGitHub.Run(6100)
		Expect(run.Conclusion).To(Equal("cancelled"))
		Expect(fetch(cast)(Default).Finalizers).To(ContainElement(Finalizer), "the Cast stays, with its record")
		Eventually(eventReasons(cast)).Should(ContainElement(castv1alpha1.ReasonCancelled))
	})

	It("asked while running: a dispatched run is cancelled exactly once", func() {
		cast := createCast("cancel-running", nil)
		Eventually(fetch(cast)).Should(HaveField("Status.RunID", Not(BeZero())))
		id := fetch(cast)(Default).Status.RunID
		fakeGitHub.UpdateRun(id, func(r *ghapitest.Run) {
			r.Status, r.RunStartedAt, r.UpdatedAt = "in_progress", t0, time.Now().Add(time.Second)
		})
		Eventually(fetch(cast)).WithTimeout(10 * time.Second).Should(phase(castv1alpha1.PhaseRunning))
		Expect(requestCancel(cast, 1)).To(Succeed())
		Eventually(fetch(cast)).Should(cancelledBy(whoami()))
		Expect(fetch(cast)(Default).Status.Message).To(ContainSubstring("cancelled at the request of"))
		Consistently(func() int { return cancelsOf(id) }, "2s").Should(Equal(1))
		Expect(dispatchesFor(fetch(cast)(Default))).To(HaveLen(1))
	})

	It("refuses at admission to cancel a finished Cast, and never calls GitHub", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 6200, Repository: repo, Workflow: "cast.yml", Status: "completed", Conclusion: "success"})
		cast := createCast("cancel-finished", attached(6200))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))
		err := requestCancel(cast, 1)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("the Cast already finished as Succeeded: there is nothing to cancel"))
		Expect(cancelsOf(6200)).To(BeZero())
	})

	It("answers a cancel of an attempt that already finished in words, without calling GitHub", func() {
		// The run is at its second attempt: admission cannot tell that a
		// cancel naming attempt 1 comes too late, the controller does.
		fakeGitHub.AddRun(ghapitest.Run{ID: 6300, Repository: repo, Workflow: "cast.yml", Status: "in_progress", Attempt: 2, RunStartedAt: t0})
		cast := createCast("cancel-old-attempt", attached(6300))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseRunning), HaveField("Status.RunAttempt", BeEquivalentTo(2))))
		Expect(requestCancel(cast, 1)).To(Succeed())
		Eventually(fetch(cast)).Should(HaveField("Status.Cancel", And(Not(BeNil()),
			HaveField("Result", castv1alpha1.CancelResultAlreadyFinished),
			HaveField("Message", ContainSubstring("attempt 1 already finished")))))
		Eventually(eventReasons(cast)).Should(ContainElement(castv1alpha1.EventReasonCancelIgnored))
		Consistently(fetch(cast), "2s").Should(phase(castv1alpha1.PhaseRunning))
		Expect(cancelsOf(6300)).To(BeZero())

		By("a cancel naming the running attempt then cancels it")
		Expect(requestCancel(cast, 2)).To(Succeed())
		Eventually(fetch(cast)).Should(cancelledBy(whoami()))
		Expect(cancelsOf(6300)).To(Equal(1))
	})

	It("reports the run's own outcome when it ended on GitHub before the cancel arrived", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 6600, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0})
		cast := createCast("cancel-too-late", attached(6600))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseRunning))
		// The run succeeds on GitHub and the Cast cannot read it yet.
		fakeGitHub.InjectFault(ghapitest.Fault{Method: "GET", PathContains: "/runs/6600", Status: 502})
		DeferCleanup(fakeGitHub.ClearFaults)
		fakeGitHub.UpdateRun(6600, func(r *ghapitest.Run) {
			r.Status, r.Conclusion, r.UpdatedAt = "completed", "success", time.Now().UTC().Truncate(time.Second).Add(time.Second)
		})
		Expect(requestCancel(cast, 1)).To(Succeed())
		// The reconcile that records the cancel ends in an error (the run
		// cannot be read), so a conflicting status write is retried under
		// the error backoff: slow under -race with every suite running.
		Eventually(fetch(cast)).WithTimeout(time.Minute).Should(HaveField("Status.Cancel", And(Not(BeNil()),
			HaveField("Result", castv1alpha1.CancelResultAlreadyFinished),
			HaveField("Message", "run 6600 had already finished on GitHub; nothing was cancelled"))),
			func() string {
				return fmt.Sprintf("status: %+v; GitHub saw %d cancels", fetch(cast)(Default).Status, cancelsOf(6600))
			})
		Expect(fetch(cast)(Default).Status.Phase).NotTo(Equal(castv1alpha1.PhaseCancelled))
		fakeGitHub.ClearFaults()
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))
		Expect(cancelsOf(6600)).To(Equal(1))
	})

	It("refuses at admission to remove or rewrite a cancel", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 6400, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0})
		cast := createCast("cancel-rewrite", attached(6400))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseRunning))
		Expect(requestCancel(cast, 1)).To(Succeed())
		got := fetch(cast)(Default)
		patch := client.MergeFrom(got.DeepCopy())
		got.Spec.Cancel.RequestedBy = "someone-else"
		err := k8s.Patch(ctx, got, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.cancel cannot be removed or changed"))

		got = fetch(cast)(Default)
		patch = client.MergeFrom(got.DeepCopy())
		got.Spec.Cancel = nil
		err = k8s.Patch(ctx, got, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.cancel cannot be removed or changed"))
	})
})
