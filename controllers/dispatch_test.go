package controllers

import (
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// dispatchesFor returns the dispatches GitHub received for this Cast,
// recognised by the cast_id correlation input.
func dispatchesFor(cast *castv1alpha1.Cast) []ghapitest.Dispatch {
	var out []ghapitest.Dispatch
	for _, d := range fakeGitHub.Dispatches() {
		if d.Inputs["cast_id"] == string(cast.UID) && d.Status < 300 {
			out = append(out, d)
		}
	}
	return out
}

func dispatchedCondition(c *castv1alpha1.Cast) metav1.Condition {
	cond := meta.FindStatusCondition(c.Status.Conditions, castv1alpha1.ConditionDispatched)
	if cond == nil {
		return metav1.Condition{}
	}
	return *cond
}

var _ = Describe("Dispatch", func() {
	AfterEach(func() { fakeGitHub.SetDispatchMode(ghapitest.ReturnDetails) })

	DescribeTable("dispatches exactly once and finds the run",
		func(mode ghapitest.DispatchMode, name string) {
			fakeGitHub.SetDispatchMode(mode)
			cast := createCast(name, nil)
			Eventually(fetch(cast)).Should(And(
				HaveField("Status.RunID", Not(BeZero())),
				conditionTrue(castv1alpha1.ConditionDispatched),
				phase(castv1alpha1.PhaseQueued),
			))
			got := fetch(cast)(Default)
			run, ok := fakeGitHub.Run(got.Status.RunID)
			Expect(ok).To(BeTrue())
			Expect(run.DisplayTitle).To(ContainSubstring(string(got.UID)))
			Expect(got.Status.RunURL).To(Equal(ghapitest.HTMLURL(repo, got.Status.RunID)))
			Expect(dispatchedCondition(got).Reason).To(Equal(castv1alpha1.ReasonDispatched))

			Consistently(func() int { return len(dispatchesFor(got)) }, "2s").Should(Equal(1))
			d := dispatchesFor(got)[0]
			Expect(d.Ref).To(Equal("main"))
			Expect(d.Inputs).To(Equal(map[string]string{"spell": name, "cast_id": string(got.UID)}))
			Eventually(eventReasons(cast)).Should(ContainElement("Dispatched"))
		},
		Entry("GitHub returns run details", ghapitest.ReturnDetails, "dispatch-details"),
		Entry("GitHub answers 204 without details", ghapitest.NoDetails, "dispatch-204"),
		Entry("older GitHub Enterprise rejects return_run_details", ghapitest.RejectReturnRunDetails, "dispatch-ghes"),
	)

	It("asks for run details first", func() {
		cast := createCast("dispatch-asks", nil)
		Eventually(func() []ghapitest.Dispatch { return dispatchesFor(fetch(cast)(Default)) }).Should(HaveLen(1))
		rd := dispatchesFor(fetch(cast)(Default))[0].ReturnRunDetails
		Expect(rd).NotTo(BeNil())
		Expect(*rd).To(BeTrue())
	})

	It("uses the Cast's own Secret over the operator's token", func() {
		fakeGitHub.SetTokens(operatorToken, "ghp_team_token")
		DeferCleanup(func() { fakeGitHub.SetTokens() })
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "team-github", Namespace: "default"},
			StringData: map[string]string{"token": "ghp_team_token"},
		})).To(Succeed())
		cast := createCast("own-credentials", func(c *castv1alpha1.Cast) {
			c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "team-github"}
		})
		Eventually(fetch(cast)).Should(HaveField("Status.RunID", Not(BeZero())))
		var sawTeamToken bool
		for _, r := range fakeGitHub.Requests() {
			if strings.Contains(r.Path, "/dispatches") && strings.HasSuffix(r.Authorization, "ghp_team_token") {
				sawTeamToken = true
			}
		}
		Expect(sawTeamToken).To(BeTrue(), "the dispatch must carry the Cast's token")
	})

	It("says which Secret is missing", func() {
		cast := createCast("missing-secret", func(c *castv1alpha1.Cast) {
			c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "nowhere"}
		})
		Eventually(func(g Gomega) metav1.Condition { return dispatchedCondition(fetch(cast)(g)) }).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", castv1alpha1.ReasonDispatchFailed),
			HaveField("Message", ContainSubstring("default/nowhere")),
		))
		Expect(dispatchesFor(fetch(cast)(Default))).To(BeEmpty())
	})

	It("reports missing credentials, then dispatches once a token appears", func() {
		Expect(os.Remove(tokenFile)).To(Succeed())
		restored := false
		DeferCleanup(func() {
			if !restored {
				Expect(os.WriteFile(tokenFile, []byte(operatorToken), 0o600)).To(Succeed())
			}
		})
		cast := createCast("no-credentials", nil)
		Eventually(func(g Gomega) metav1.Condition { return dispatchedCondition(fetch(cast)(g)) }).Should(And(
			HaveField("Reason", castv1alpha1.ReasonCredentialsMissing),
			HaveField("Message", ContainSubstring("no GitHub credentials")),
		))
		Expect(fetch(cast)(Default).Status.Phase).To(Equal(castv1alpha1.PhasePending))

		Expect(os.WriteFile(tokenFile, []byte(operatorToken), 0o600)).To(Succeed())
		restored = true
		Eventually(fetch(cast)).Should(conditionTrue(castv1alpha1.ConditionDispatched))
		Expect(dispatchesFor(fetch(cast)(Default))).To(HaveLen(1))
	})

	It("fails a Cast GitHub refuses to dispatch, saying why", func() {
		fakeGitHub.InjectFault(ghapitest.Fault{Method: "POST", PathContains: "/refused.yml/dispatches", Times: 1,
			Status: 422, Message: "Unexpected inputs provided: [\"spell\"]"})
		cast := createCast("refused", func(c *castv1alpha1.Cast) { c.Spec.Workflow = "refused.yml" })
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
		Expect(fetch(cast)(Default).Status.Message).To(ContainSubstring("Unexpected inputs"))
	})

	It("after a restart, finds a run dispatched before the crash instead of dispatching again", func() {
		// A Cast whose intent was recorded, and whose run GitHub already has,
		// as if the previous process died between the two.
		stopTheManager()
		cast := createCast("crashed-dispatch", nil)
		got := fetch(cast)(Default)
		got.Status.Phase = castv1alpha1.PhasePending
		now := metav1.NewTime(time.Now())
		got.Status.Conditions = []metav1.Condition{{Type: castv1alpha1.ConditionDispatched, Status: metav1.ConditionFalse,
			Reason: ReasonDispatching, Message: "dispatching", LastTransitionTime: now}}
		Expect(k8s.Status().Update(ctx, got)).To(Succeed())
		run := fakeGitHub.AddRun(ghapitest.Run{Repository: repo, Workflow: "cast.yml", Status: "in_progress",
			DisplayTitle: "cast " + string(got.UID)})

		startManager()
		Eventually(fetch(cast)).Should(And(HaveField("Status.RunID", run.ID), phase(castv1alpha1.PhaseRunning)))
		Consistently(func() []ghapitest.Dispatch { return dispatchesFor(got) }, "3s").Should(BeEmpty())
	})
})
