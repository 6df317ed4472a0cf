package controllers

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// postsUnder returns the POSTs whose path starts with prefix.
func postsUnder(prefix string) []ghapitest.Request {
	var out []ghapitest.Request
	for _, r := range fakeGitHub.Requests() {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// requestsUnder counts the GitHub requests whose path starts with prefix,
// and how many of them GitHub answered 304.
func requestsUnder(prefix string) (all, notModified int) {
	for _, r := range fakeGitHub.Requests() {
		if strings.HasPrefix(r.Path, prefix) {
			all++
			if r.Status == 304 {
				notModified++
			}
		}
	}
	return all, notModified
}

func accessCondition(c *castv1alpha1.Cast) *metav1.Condition {
	return meta.FindStatusCondition(c.Status.Conditions, castv1alpha1.ConditionGitHubAccess)
}

func runningCasts(owner string, n int, firstID int64) []*castv1alpha1.Cast {
	GinkgoHelper()
	repository := owner + "/spells"
	casts := make([]*castv1alpha1.Cast, n)
	for i := range n {
		fakeGitHub.AddRun(ghapitest.Run{ID: firstID + int64(i), Repository: repository, Workflow: "cast.yml", Status: "in_progress"})
	}
	for i := range n {
		id := firstID + int64(i)
		casts[i] = createCast(fmt.Sprintf("%s-%d", owner, i), func(c *castv1alpha1.Cast) {
			c.Spec.Repository, c.Spec.RunID = repository, &id
		})
	}
	for _, c := range casts {
		Eventually(fetch(c)).Should(phase(castv1alpha1.PhaseRunning))
	}
	return casts
}

var _ = Describe("GitHub budget", func() {
	It("resyncs a repository's Casts from one shared listing, free while nothing changes", func() {
		casts := runningCasts("listing-org", 6, 7100)
		seen := len(fakeGitHub.Requests())
		before, freeBefore := requestsUnder("/repos/listing-org/spells/actions/runs")
		time.Sleep(3 * testResync)
		all, notModified := requestsUnder("/repos/listing-org/spells/actions/runs")
		all, notModified = all-before, notModified-freeBefore
		// Each round is two listings (queued, in progress), at most one
		// round per half interval, whatever the number of Casts.
		Expect(all).To(BeNumerically(">=", 2), "listings over three resync intervals")
		Expect(all).To(BeNumerically("<=", 2*8), "listings over three resync intervals for 6 Casts")
		for _, r := range fakeGitHub.Requests()[seen:] {
			Expect(r.Path).NotTo(MatchRegexp(`^/repos/listing-org/spells/actions/runs/\d+$`), "a run read on its own while listed")
		}
		Expect(notModified).To(BeNumerically(">=", all/2), "unchanged listings answered 304")

		fakeGitHub.UpdateRun(7100, func(r *ghapitest.Run) {
			r.Status, r.Conclusion, r.UpdatedAt = "completed", "success", time.Now().Add(time.Second)
		})
		Eventually(fetch(casts[0])).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))
		Expect(fetch(casts[1])(Default).Status.Phase).To(Equal(castv1alpha1.PhaseRunning))
	})

	It("says when a short budget delays a Cast's resync, keeps applying webhooks, and recovers after the reset", func() {
		// A credential of its own, so its books start here.
		const token = "ghp_short_budget"
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "short-budget", Namespace: "default"},
			StringData: map[string]string{"token": token},
		})).To(Succeed())
		withToken := func(c *castv1alpha1.Cast) {
			c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "short-budget"}
		}
		// Far enough ahead that a loaded machine (-race, 2 cores) still
		// sees the short budget before it resets.
		reset := time.Now().Add(12 * time.Second).Truncate(time.Second)
		fakeGitHub.SetRateLimitFor(token, 5000, 300, reset)
		// A dispatch, essential, learns the budget: 300 left, under the
		// reserve of 500.
		warm := createCast("budget-warm", withToken)
		Eventually(fetch(warm)).Should(conditionTrue(castv1alpha1.ConditionDispatched))

		fakeGitHub.AddRun(ghapitest.Run{ID: 7200, Repository: "budget-org/spells", Workflow: "cast.yml", Status: "queued"})
		cast := createCast("budget-low", func(c *castv1alpha1.Cast) {
			withToken(c)
			c.Spec.Repository, c.Spec.RunID = "budget-org/spells", ptrInt64(7200)
		})
		Eventually(func(g Gomega) *metav1.Condition { return accessCondition(fetch(cast)(g)) }).Should(And(
			Not(BeNil()),
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", castv1alpha1.ReasonBudgetLow),
			HaveField("Message", ContainSubstring("webhooks still apply")),
		))
		Eventually(eventReasons(cast)).Should(ContainElement(castv1alpha1.ReasonBudgetLow))
		_, listed := requestsUnder("/repos/budget-org/")
		Expect(listed).To(BeZero(), "no resync sent below the reserve")

		deliver("workflow_run", runPayload(runEvent{Action: "in_progress", ID: 7200, Repo: "budget-org/spells",
			Status: "in_progress", Updated: time.Now().UTC()}))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseRunning))

		Eventually(func(g Gomega) *metav1.Condition { return accessCondition(fetch(cast)(g)) }).
			WithTimeout(30 * time.Second).Should(HaveField("Reason", castv1alpha1.ReasonAccessRestored))
		Eventually(eventReasons(cast)).Should(ContainElement(castv1alpha1.ReasonAccessRestored))
		for _, r := range fakeGitHub.Requests() {
			if r.Identity == token {
				Expect(r.Status).NotTo(Equal(403), "%s %s answered 403", r.Method, r.Path)
			}
		}
	})
})

var _ = Describe("Webhooks first", Ordered, func() {
	BeforeAll(func() {
		stopTheManager()
		startManagerWith(managerOptions{webhookResync: 6 * time.Second})
		DeferCleanup(func() { stopTheManager(); startManager() })
	})

	It("resyncs a repository whose webhook delivers only as a slow safety net, and falls back when it stops", func() {
		hooked := runningCasts("hooked-org", 1, 7300)[0]
		quiet := runningCasts("quiet-org", 1, 7400)[0]
		// Newer than the run as the fake lists it, at GitHub's one-second
		// precision, so the delivery is news and the resync clock restarts.
		deliver("workflow_run", runPayload(runEvent{Action: "in_progress", ID: 7300, Repo: "hooked-org/spells",
			Status: "in_progress", Updated: time.Now().UTC().Add(2 * time.Second)}))
		Eventually(fetch(hooked)).Should(HaveField("Status.LastEventAt", Not(BeNil())))
		// A resync already under way when the delivery came may still land.
		time.Sleep(time.Second)
		quietBefore := testutil.ToFloat64(quietRepos)
		hookedBefore, _ := requestsUnder("/repos/hooked-org/")
		quietListings, _ := requestsUnder("/repos/quiet-org/")

		time.Sleep(2*testResync + time.Second)
		hookedAfter, _ := requestsUnder("/repos/hooked-org/")
		quietAfter, _ := requestsUnder("/repos/quiet-org/")
		Expect(hookedAfter-hookedBefore).To(BeZero(), "resyncs of a repository whose webhook delivers")
		Expect(quietAfter-quietListings).To(BeNumerically(">=", 2), "resyncs of a repository without deliveries")
		Expect(fetch(hooked)(Default).Status.Phase).To(Equal(castv1alpha1.PhaseRunning))
		Expect(fetch(quiet)(Default).Status.Phase).To(Equal(castv1alpha1.PhaseRunning))

		By("the webhook going quiet for longer than the safety interval")
		Eventually(func() int { n, _ := requestsUnder("/repos/hooked-org/"); return n - hookedAfter }).
			WithTimeout(20 * time.Second).Should(BeNumerically(">=", 2))
		Expect(testutil.ToFloat64(quietRepos)).To(Equal(quietBefore + 1))
	})
})

var _ = Describe("A dispatch storm", Ordered, func() {
	const interval = 200 * time.Millisecond
	BeforeAll(func() {
		stopTheManager()
		startManagerWith(managerOptions{github: ghapi.Options{BaseURL: fakeGitHub.URL, TokenFile: tokenFile, WriteInterval: interval}})
		DeferCleanup(func() { stopTheManager(); startManager() })
	})

	It("dispatches each Cast once, one at a time and evenly spaced, without looking for runs it never sent", func() {
		const n = 20 // 4 s of slots, twice the suite's dispatch grace
		casts := make([]*castv1alpha1.Cast, n)
		for i := range casts {
			casts[i] = createCast(fmt.Sprintf("storm-%02d", i), func(c *castv1alpha1.Cast) { c.Spec.Repository = "storm-org/spells" })
		}
		for _, c := range casts {
			Eventually(fetch(c)).WithTimeout(30 * time.Second).Should(HaveField("Status.RunID", Not(BeZero())))
		}
		posts := postsUnder("/repos/storm-org/spells/actions/workflows")
		Expect(posts).To(HaveLen(n), "one dispatch per Cast")
		// Spacing is seen where GitHub sees it, after the network: one
		// request delayed in flight can arrive just before the next, but
		// never three within an interval, and the storm takes its slots.
		for i := 2; i < len(posts); i++ {
			Expect(posts[i].At.Sub(posts[i-2].At)).To(BeNumerically(">=", interval), "dispatches %d to %d", i-2, i)
		}
		Expect(posts[n-1].At.Sub(posts[0].At)).To(BeNumerically(">=", (n-1)*interval-interval/2), "the storm's span")
		for _, r := range fakeGitHub.Requests() {
			Expect(r.Path).NotTo(Equal("/repos/storm-org/spells/actions/workflows/cast.yml/runs"), "a look for a run this process never sent")
		}
		for _, c := range casts {
			Expect(dispatchesFor(fetch(c)(Default))).To(HaveLen(1))
		}
	})
})
