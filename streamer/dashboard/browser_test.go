package dashboard_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

const repo = "spell-platform/spells"

// fixtures creates Casts in every phase, for the list and the screenshot
// (nightly-docs' detail, with its jobs).
// It returns the Casts the spec changes: build-42 (Queued), lint-pr-311
// (Pending), canary-rollout (Cancelled), nightly-docs (Running) and
// integration-tests (TimedOut).
func fixtures(ns string) (build, lint, canary, docs, integration *castv1alpha1.Cast) {
	GinkgoHelper()
	now := time.Now().UTC().Truncate(time.Minute)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }
	run := func(st *castv1alpha1.CastStatus, id int64) {
		st.RunID, st.RunAttempt = id, 1
		st.RunURL = "https://github.com/" + repo + "/actions/runs/" + strconv.FormatInt(id, 10)
	}
	build = createCast(ns, "build-42", repo, "build.yml", func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Message = castv1alpha1.PhaseQueued, "Waiting for a runner"
		run(st, 9042)
	})
	docs = createCast(ns, "nightly-docs", repo, "docs.yml", func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Progress, st.Message, st.StartedAt = castv1alpha1.PhaseRunning, 72, "Publishing site", at(4*time.Minute)
		run(st, 9038)
		st.RunAttempt, st.Jobs = 2, screenshotJobs(now)
		st.PreviousAttempts = []castv1alpha1.AttemptOutcome{{Attempt: 1, Phase: castv1alpha1.PhaseFailed, Conclusion: "failure",
			StartedAt: at(21 * time.Minute), FinishedAt: at(12 * time.Minute), URL: st.RunURL + "/attempts/1"}}
	})
	createCast(ns, "release-1-4", repo, "release.yml", func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Progress, st.Conclusion = castv1alpha1.PhaseSucceeded, 100, "success"
		st.StartedAt, st.FinishedAt, st.DurationMillis, st.CostCents = at(52*time.Minute), at(38*time.Minute), 14*60*1000+32*1000, 86
		run(st, 9017)
	})
	createCast(ns, "deploy-staging", repo, "deploy.yml", func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Progress, st.Conclusion, st.Message = castv1alpha1.PhaseFailed, 63, "failure", "Job deploy failed: exit code 1"
		st.StartedAt, st.FinishedAt, st.DurationMillis, st.CostCents = at(75*time.Minute), at(69*time.Minute), 6*60*1000+5*1000, 31
		run(st, 9011)
	})
	integration = createCast(ns, "integration-tests", repo, "integration.yml", func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Progress, st.Conclusion, st.Message = castv1alpha1.PhaseTimedOut, 88, "timed_out", "Exceeded the 30m timeout"
		st.StartedAt, st.FinishedAt, st.DurationMillis, st.CostCents = at(3*time.Hour), at(150*time.Minute), 30*60*1000, 240
		run(st, 8990)
	})
	canary = createCast(ns, "canary-rollout", repo, "canary.yml", func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Progress, st.Conclusion, st.Message = castv1alpha1.PhaseCancelled, 35, "cancelled", "Cancelled by a maintainer"
		st.StartedAt, st.FinishedAt, st.DurationMillis = at(5*time.Hour), at(295*time.Minute), 2*60*1000+48*1000
		run(st, 8954)
	})
	lint = createCast(ns, "lint-pr-311", repo, "lint.yml", nil)
	return build, lint, canary, docs, integration
}

var _ = Describe("The dashboard in a browser", func() {
	It("signs in, streams the list and one Cast, survives a streamer restart, and signs out", func() {
		ns := newNamespace("spells-ci") // it shows in docs/dashboard.png
		token := serviceAccountToken(ns, "viewer")
		allowReading(ns, "viewer")
		build, lint, canary, docs, integration := fixtures(ns)

		first := startStreamer()
		front := startFront(first)
		b := openBrowser()
		b.do(chromedp.Navigate(front.url + "/"))

		By("signing in with a pasted token, which the page does not keep")
		b.signIn(token)
		Eventually(b.text("user-name")).Should(Equal("system:serviceaccount:" + ns + ":viewer"))
		Expect(mustEval[string](b, `document.getElementById('token').value`)).To(BeEmpty(), "the token field is cleared")
		Expect(mustEval[bool](b, `localStorage.length === 0 && sessionStorage.length === 0`)).To(BeTrue(), "nothing stored")
		Expect(mustEval[string](b, `document.cookie`)).To(BeEmpty(), "the session cookie is HttpOnly")
		Expect(mustEval[string](b, `location.href`)).NotTo(ContainSubstring(token[:40]))
		b.do(chromedp.Evaluate[chromedp.Void](`window.__samePage = true`))

		By("choosing the namespace and seeing its Casts live")
		b.chooseNamespace(ns)
		Eventually(b.rowIDs).Should(HaveLen(7))
		Eventually(b.connState).Should(Equal("live"))
		Eventually(b.text("last-update")).Should(MatchRegexp(`^Last update \d\d:\d\d:\d\d$`))
		Expect(b.rowValue(ns + "/release-1-4")()).To(And(
			HaveField("Phase", "Succeeded"), HaveField("Progress", 100.0), HaveField("Duration", "14m 32s"),
			HaveField("Run", "#9017 ↗"), HaveField("RunHref", "https://github.com/"+repo+"/actions/runs/9017"),
			HaveField("RunRel", "noopener noreferrer")))
		Expect(b.rowValue(ns + "/integration-tests")()).To(HaveField("Phase", "Timed out"))
		Expect(b.rowValue(ns + "/lint-pr-311")()).To(And(HaveField("Phase", "Pending"), HaveField("Duration", "—")))
		running := func() (string, error) {
			r, err := b.rowValue(ns + "/nightly-docs")()
			return r.Duration, err
		}
		d1, _ := running()
		Eventually(running, "3s").ShouldNot(Equal(d1), "a running Cast's duration ticks")

		By("seeing a status change without a reload: badge, progress and a toast")
		setStatus(build, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, 40, "Compiling spells (3/7)"
			st.StartedAt = &metav1.Time{Time: time.Now().Add(-95 * time.Second)}
		})
		Eventually(b.rowValue(ns + "/build-42")).Should(And(
			HaveField("Phase", "Running"), HaveField("Progress", 40.0), HaveField("Message", "Compiling spells (3/7)")))
		Eventually(b.toasts).Should(ContainElement("build-42 Running"))
		Expect(b.rowIDs()).To(HaveExactElements(ns+"/lint-pr-311", ns+"/build-42", ns+"/nightly-docs", ns+"/release-1-4",
			ns+"/deploy-staging", ns+"/integration-tests", ns+"/canary-rollout"), "not started first, then newest first")

		By("saving the screenshot for the README: a running Cast's detail and its timeline")
		b.do(chromedp.Click(chromedp.CSS(`#cast-rows tr[data-cast-id="` + ns + `/nightly-docs"]`)))
		Eventually(b.timeline).Should(HaveField("Jobs", HaveLen(3)))
		Eventually(b.detail).Should(HaveField("Stream", "live"))
		Eventually(b.toasts, "10s").Should(BeEmpty(), "no toast covers the timeline")
		screenshot(b)
		b.do(chromedp.Click(chromedp.CSS("#detail-back")))
		Eventually(b.visible("list-view")).Should(BeTrue())

		By("showing cards on a phone")
		b.do(chromedp.EmulateViewport(390, 844))
		Eventually(func() (string, error) {
			return eval[string](b, `getComputedStyle(document.querySelector('#cast-rows tr')).display`)
		}).Should(Equal("grid"))
		b.do(chromedp.EmulateViewport(1280, 800))

		By("opening the detail view from the keyboard")
		b.do(chromedp.Focus(chromedp.CSS(`#cast-rows tr[data-cast-id="`+ns+`/build-42"]`)), chromedp.KeyEvent(kb.Enter))
		Eventually(b.detail).Should(And(HaveField("Visible", true), HaveField("Title", "build-42"),
			HaveField("Stream", "live"), HaveField("Progress", 40.0), HaveField("Message", "Compiling spells (3/7)")))
		Expect(b.detail()).To(HaveField("Phase", ContainSubstring("Running")))
		Expect(mustEval[string](b, `location.hash`)).To(Equal("#/namespaces/" + ns + "/casts/build-42"))
		detailStream := "/api/v1/namespaces/" + ns + "/casts/build-42/events"
		Expect(front.requests("GET", detailStream)).To(Equal(1))

		By("driving the Cast to Succeeded: the detail shows the final state and its stream stays closed")
		setStatus(build, func(st *castv1alpha1.CastStatus) { st.Progress, st.Message = 85, "Packaging" })
		Eventually(b.detail).Should(And(HaveField("Progress", 85.0), HaveField("Message", "Packaging")))
		setStatus(build, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message, st.Conclusion = castv1alpha1.PhaseSucceeded, 100, "Done", "success"
			st.FinishedAt = &metav1.Time{Time: time.Now()}
			st.DurationMillis, st.CostCents = 3*60*1000+7*1000, 1234
			st.Artifacts = []castv1alpha1.Artifact{
				{Name: "spells-linux-amd64.tar.gz", SizeBytes: 5 << 20, URL: "https://example.com/a/1"},
				{Name: "evil", SizeBytes: 10, URL: "javascript:alert(1)"},
			}
		})
		Eventually(b.detail).Should(And(HaveField("Phase", ContainSubstring("Succeeded")), HaveField("Stream", "finished"),
			HaveField("Progress", 100.0), HaveField("Cost", "$12.34"), HaveField("Duration", "3m 07s"),
			HaveField("Artifacts", ConsistOf("spells-linux-amd64.tar.gz5.0 MiB", "evil10 B"))))
		Expect(b.detail()).To(HaveField("Facts", ContainSubstring("#9042")))
		Expect(mustEval[int](b, `document.querySelectorAll('#detail-artifacts a').length`)).To(Equal(1), "a javascript: URL is not a link")
		Eventually(b.toasts).Should(ContainElement("build-42 Succeeded"))
		Consistently(func() int { return front.requests("GET", detailStream) }, "2s", "200ms").Should(Equal(1),
			"after complete the page closes the stream instead of letting EventSource reconnect")

		By("going back to the list with Escape")
		b.do(chromedp.KeyEvent(kb.Escape))
		Eventually(b.visible("list-view")).Should(BeTrue())
		Eventually(func() (string, error) { return eval[string](b, `document.activeElement?.dataset.castId ?? ''`) }).
			Should(Equal(ns+"/build-42"), "focus returns to the row")

		By("killing the streamer, changing Casts while it is down, and restarting it")
		// The EventSource's own reconnect gets the proxy's 502 and gives up;
		// the page probes, backs off and opens a new one: a full snapshot.
		listStream := "/api/v1/namespaces/" + ns + "/casts/events"
		attempts := front.requests("GET", listStream)
		first.stop()
		Eventually(b.connState).Should(Equal("reconnecting"))
		Eventually(b.text("conn-text")).Should(Equal("Reconnecting…"))
		setStatus(lint, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, 10, "Checking out"
			st.StartedAt = &metav1.Time{Time: time.Now()}
		})
		Expect(k8s.Delete(context.Background(), canary)).To(Succeed())
		Eventually(func() int { return front.requests("GET", listStream) }).Should(BeNumerically(">", attempts),
			"the page tries again while the streamer is down")
		Expect(b.connState()).To(Equal("reconnecting"))
		second := startStreamer()
		front.pointAt(second)
		Eventually(b.connState, "40s").Should(Equal("live"))
		Eventually(b.rowValue(ns + "/lint-pr-311")).Should(And(HaveField("Phase", "Running"), HaveField("Progress", 10.0)))
		Eventually(b.row(ns+"/canary-rollout")).Should(BeNil(), "a Cast deleted meanwhile disappears")
		Expect(b.rowIDs()).To(HaveLen(6))
		Eventually(b.toasts).Should(ContainElement("lint-pr-311 Running"))

		By("restarting it while the proxy holds requests: the EventSource resumes from a replica that never saw its id")
		resumes := len(front.streamResumes(listStream))
		front.hold()
		second.stop()
		Eventually(b.connState).Should(Equal("reconnecting"))
		setStatus(docs, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseSucceeded, 100, "Published"
			st.FinishedAt, st.DurationMillis = &metav1.Time{Time: time.Now()}, 5*60*1000
		})
		Expect(k8s.Delete(context.Background(), integration)).To(Succeed())
		Eventually(func() int { return len(front.streamResumes(listStream)) }).Should(BeNumerically(">", resumes))
		third := startStreamer()
		front.pointAt(third)
		front.release()
		Eventually(b.connState).Should(Equal("live"))
		Expect(front.streamResumes(listStream)[resumes]).NotTo(BeEmpty(), "the browser reconnected with Last-Event-ID")
		Eventually(b.rowValue(ns + "/nightly-docs")).Should(And(HaveField("Phase", "Succeeded"), HaveField("Duration", "5m 00s")))
		Eventually(b.row(ns+"/integration-tests")).Should(BeNil(), `the replica answers with a full snapshot ("resumed": false) and the page drops what is gone`)
		Eventually(b.toasts).Should(ContainElement("nightly-docs Succeeded"))
		Expect(mustEval[bool](b, `window.__samePage === true`)).To(BeTrue(), "all of this without a reload")

		By("signing out")
		b.do(chromedp.Click(chromedp.CSS("#sign-out")))
		Eventually(b.visible("signin-view")).Should(BeTrue())
		Expect(b.visible("account")()).To(BeFalse())
		Expect(mustEval[int](b, `fetch('api/v1/session', {credentials: 'same-origin'}).then((r) => r.status)`)).
			To(Equal(401), "the session cookie is gone")

		Expect(b.cspViolations()).To(BeEmpty())
		b.allResourcesFrom(front.url)
	})

	It("says what a signed-in user may not see", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "outsider")
		createCast(ns, "secret-build", repo, "build.yml", nil)

		front := startFront(startStreamer())
		b := openBrowser()
		b.do(chromedp.Navigate(front.url + "/#/namespaces/" + ns))
		b.signIn(token)
		Eventually(b.text("user-name")).Should(Equal("system:serviceaccount:" + ns + ":outsider"))
		Eventually(b.visible("list-alert")).Should(BeTrue())
		Expect(b.text("list-alert")()).To(And(
			HavePrefix("You may not see these casts:"),
			ContainSubstring(`user "system:serviceaccount:`+ns+`:outsider" cannot list or watch casts.spell.dev in namespace "`+ns+`"`)))
		Expect(b.rowIDs()).To(BeEmpty())
		Expect(b.connState()).To(Equal("stopped"))

		By("choosing another namespace it may not see either")
		b.chooseNamespace("default")
		Eventually(b.text("list-alert")).Should(ContainSubstring(`in namespace "default"`))
		Expect(b.cspViolations()).To(BeEmpty())
	})

	It("resumes exactly after a dropped connection, and says when it is rate limited", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "busy")
		allowReading(ns, "busy")
		limited := createCast(ns, "limited", repo, "build.yml", nil)
		createCast(ns, "steady", repo, "build.yml", nil)

		front := startFront(startStreamer())
		b := openBrowser()
		b.do(chromedp.Navigate(front.url + "/#/namespaces/" + ns))
		b.signIn(token)
		Eventually(b.rowIDs).Should(ConsistOf(ns+"/limited", ns+"/steady"))
		Eventually(b.connState).Should(Equal("live"))

		By("dropping the connection: EventSource resumes from its last id and gets only what changed")
		listStream := "/api/v1/namespaces/" + ns + "/casts/events"
		resumes := len(front.streamResumes(listStream))
		front.hold()
		front.dropStreams()
		Eventually(b.connState).Should(Equal("reconnecting"))
		setStatus(limited, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseQueued, 5 })
		Eventually(func() int { return len(front.streamResumes(listStream)) }).Should(BeNumerically(">", resumes))
		front.release()
		Eventually(b.connState).Should(Equal("live"))
		Expect(front.streamResumes(listStream)[resumes]).NotTo(BeEmpty())
		Eventually(b.rowValue(ns + "/limited")).Should(HaveField("Phase", "Queued"))
		Consistently(b.rowIDs, "1s").Should(ConsistOf(ns+"/limited", ns+"/steady"), `"resumed": true keeps the Casts not sent again`)

		By("answering 429: the page says so and retries after Retry-After")
		// The stream's reconnect and the page's probe both get 429.
		front.refuse429(2, "2")
		front.dropStreams()
		Eventually(b.text("list-alert")).Should(Equal("Too many requests — retrying in 2 s."))
		Expect(b.connState()).To(Equal("reconnecting"))
		Eventually(b.connState, "10s").Should(Equal("live"))
		Expect(b.visible("list-alert")()).To(BeFalse(), "the notice goes once the stream is back")
		Expect(b.rowIDs()).To(ConsistOf(ns+"/limited", ns+"/steady"))
	})

	It("polls the JSON endpoints where EventSource is missing", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "poller")
		allowReading(ns, "poller")
		c := createCast(ns, "polled", repo, "build.yml", nil)

		front := startFront(startStreamer())
		b := openBrowser(`delete window.EventSource;`)
		b.do(chromedp.Navigate(front.url + "/#/namespaces/" + ns))
		b.signIn(token)
		Eventually(b.rowValue(ns + "/polled")).Should(HaveField("Phase", "Pending"))
		Expect(b.connState()).To(Equal("polling"))
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 55 })
		Eventually(b.rowValue(ns+"/polled"), "12s").Should(And(HaveField("Phase", "Running"), HaveField("Progress", 55.0)))
		Eventually(b.toasts).Should(ContainElement("polled Running"))
		Expect(front.requests("GET", "/api/v1/namespaces/"+ns+"/casts/events")).To(BeZero())
		Expect(front.requests("GET", "/api/v1/namespaces/"+ns+"/casts")).To(BeNumerically(">=", 2))
	})
})

// screenshot takes the page, full length, every run; it replaces the
// README's docs/dashboard.png only with UPDATE_SCREENSHOT=1 (`make
// screenshot`), so `make test` leaves the tree clean.
func screenshot(b *browser) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	Expect(err).NotTo(HaveOccurred())
	Expect(len(png)).To(BeNumerically("<", 300<<10), "docs/dashboard.png must stay under 300 KB")
	dir := GinkgoT().TempDir()
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		root, err := localcluster.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		dir = filepath.Join(root, "docs")
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	}
	Expect(os.WriteFile(filepath.Join(dir, "dashboard.png"), png, 0o644)).To(Succeed())
}
