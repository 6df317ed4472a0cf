package dashboard_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
)

// The browser client (/js/v1/cast-client.js) as a team's own page uses it:
// imported from the streamer into a page on another origin, which the
// streamer allows with --allowed-origins.
var _ = Describe("The browser client on another origin", func() {
	// setUp starts a page origin, a streamer that allows it (tuned by
	// tune) behind a front proxy, and a page with the client imported.
	setUp := func(tune func(*streamer.Options), before ...string) (*frontServer, *browser, string) {
		GinkgoHelper()
		app, serve := startAppOrigin()
		backend := startStreamer(func(o *streamer.Options) {
			o.AllowedOrigins = []string{app.url}
			if tune != nil {
				tune(o)
			}
		})
		front := startFront(backend)
		serve(front.url)
		return front, openClientPage(app, front.url, before...), jsString(front.url)
	}
	signIn := func(b *browser, base, token string) string {
		GinkgoHelper()
		return mustEval[string](b, fmt.Sprintf(`cc.signIn(%s, {baseUrl: %s}).then((me) => me.user)`, jsString(token), base))
	}

	It("signs in and fires every handler with the right data, for a namespace and for one Cast", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "board")
		allowReading(ns, "board")
		user := "system:serviceaccount:" + ns + ":board"
		build := createCast(ns, "build", repo, "build.yml", nil)
		other := createCast(ns, "other", repo, "build.yml", nil)
		front, b, base := setUp(nil)

		By("exchanging the token for the streamer's session cookie, across origins")
		Expect(mustEval[string](b, `cc.whoAmI({baseUrl: `+base+`}).then(String)`)).To(Equal("null"))
		Expect(signIn(b, base, token)).To(Equal(user))
		Expect(mustEval[string](b, `cc.whoAmI({baseUrl: `+base+`}).then((me) => me.user)`)).To(Equal(user))
		Expect(mustEval[string](b, `document.cookie`)).To(BeEmpty(), "the cookie is the streamer's, and HttpOnly")

		By("following the namespace: its Casts, then synced")
		b.record("ns", fmt.Sprintf(`{namespace: %q, baseUrl: %s}`, ns, base))
		Eventually(b.subState("ns")).Should(Equal("live"))
		Eventually(b.log("ns")).Should(ContainElement(HaveField("T", "synced")))
		log, _ := b.log("ns")()
		Expect(of("status", log)).To(ConsistOf(
			And(HaveField("CastID", ns+"/build"), HaveField("Status", "Pending"), HaveField("ID", Not(BeEmpty()))),
			And(HaveField("CastID", ns+"/other"), HaveField("Status", "Pending"))))
		Expect(of("synced", log)).To(HaveExactElements(HaveField("Resumed", false)), "a first connection gets a full snapshot")
		Expect(of("state", log)).To(HaveExactElements(HaveField("State", "live")))

		By("a phase change, a progress change, the end and a deletion, each to its handler")
		setStatus(build, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, 40, "Compiling"
		})
		Eventually(b.log("ns")).Should(ContainElement(And(HaveField("T", "status"), HaveField("CastID", ns+"/build"),
			HaveField("Status", "Running"), HaveField("Progress", 40.0), HaveField("Message", "Compiling"))))
		setStatus(build, func(st *castv1alpha1.CastStatus) { st.Progress, st.Message = 70, "Packaging" })
		Eventually(b.log("ns")).Should(ContainElement(And(HaveField("T", "progress"), HaveField("CastID", ns+"/build"),
			HaveField("Status", "Running"), HaveField("Progress", 70.0), HaveField("Message", "Packaging"))))
		setStatus(build, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Conclusion = castv1alpha1.PhaseSucceeded, 100, "success"
		})
		Eventually(b.log("ns")).Should(ContainElement(And(HaveField("T", "complete"), HaveField("CastID", ns+"/build"), HaveField("Status", "Succeeded"))))
		Expect(k8s.Delete(context.Background(), other)).To(Succeed())
		Eventually(b.log("ns")).Should(ContainElement(And(HaveField("T", "deleted"), HaveField("CastID", ns+"/other"), HaveField("Synthetic", false))))
		Expect(mustEval[[]string](b, `[...window.__subs.ns.casts.keys()]`)).To(ConsistOf(ns+"/build"), "casts holds the current Casts")
		Expect(mustEval[bool](b, `window.__subs.ns.lastUpdate instanceof Date`)).To(BeTrue())
		Expect(mustEval[int](b, `window.__subs.ns.reconnectCount`)).To(BeZero())

		By("following one Cast, which ends with its complete event")
		single := createCast(ns, "single", repo, "build.yml", nil)
		b.record("one", fmt.Sprintf(`{namespace: %q, name: 'single', baseUrl: %s}`, ns, base))
		Eventually(b.log("one")).Should(ContainElement(And(HaveField("T", "status"), HaveField("CastID", ns+"/single"), HaveField("Status", "Pending"))))
		setStatus(single, func(st *castv1alpha1.CastStatus) { st.Phase, st.Conclusion = castv1alpha1.PhaseFailed, "failure" })
		Eventually(b.subState("one")).Should(Equal("closed"))
		log, _ = b.log("one")()
		Expect(of("complete", log)).To(HaveExactElements(HaveField("Status", "Failed")))
		Expect(log[len(log)-1]).To(And(HaveField("T", "state"), HaveField("State", "closed"), HaveField("Reason", "complete")))
		singleStream := "/api/v1/namespaces/" + ns + "/casts/single/events"
		Consistently(func() int { return front.requests("GET", singleStream) }, "2s", "200ms").Should(Equal(1),
			"after complete the client closes the stream instead of letting EventSource reconnect")

		By("asking for some event types only, and refusing unknown ones")
		b.record("ends", fmt.Sprintf(`{namespace: %q, events: ['complete', 'deleted'], baseUrl: %s}`, ns, base))
		Expect(mustEval[string](b, `window.__subs.ends.url`)).To(HaveSuffix("/api/v1/namespaces/" + ns + "/casts/events?events=complete,deleted"))
		Expect(mustEval[string](b, `(() => { try { cc.subscribe({events: ['finished']}); return ''; } catch (e) { return e.name + ': ' + e.message; } })()`)).
			To(Equal(`TypeError: unknown event type "finished": want one of status, progress, complete, deleted`))
		Eventually(b.log("ends")).Should(ContainElement(HaveField("T", "synced")))
		late := createCast(ns, "late", repo, "build.yml", nil)
		setStatus(late, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 10 })
		setStatus(late, func(st *castv1alpha1.CastStatus) { st.Phase, st.Conclusion = castv1alpha1.PhaseSucceeded, "success" })
		Eventually(b.log("ends")).Should(ContainElement(And(HaveField("T", "complete"), HaveField("CastID", ns+"/late"))))
		log, _ = b.log("ends")()
		Expect(of("status", log)).To(BeEmpty())
		Expect(of("progress", log)).To(BeEmpty())

		By("narrowing by label")
		b.record("none", fmt.Sprintf(`{namespace: %q, labelSelector: 'team=nobody', baseUrl: %s}`, ns, base))
		Eventually(b.log("none")).Should(ContainElement(HaveField("T", "synced")))
		Expect(b.log("none")()).To(HaveExactElements(HaveField("State", "live"), HaveField("T", "synced")))

		By("signing out")
		Expect(mustEval[string](b, `cc.signOut({baseUrl: `+base+`}).then(() => cc.whoAmI({baseUrl: `+base+`})).then(String)`)).To(Equal("null"))
	})

	It("resumes after a streamer restart with Last-Event-ID, without telling anything twice", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "resumer")
		allowReading(ns, "resumer")
		createCast(ns, "steady", repo, "build.yml", nil)
		changing := createCast(ns, "changing", repo, "build.yml", nil)
		doomed := createCast(ns, "doomed", repo, "build.yml", nil)
		app, serve := startAppOrigin()
		allow := func(o *streamer.Options) { o.AllowedOrigins = []string{app.url} }
		first := startStreamer(allow)
		front := startFront(first)
		serve(front.url)
		b := openClientPage(app, front.url)
		base := jsString(front.url)
		signIn(b, base, token)
		b.record("ns", fmt.Sprintf(`{namespace: %q, baseUrl: %s}`, ns, base))
		Eventually(b.log("ns")).Should(ContainElement(HaveField("T", "synced")))
		listStream := "/api/v1/namespaces/" + ns + "/casts/events"
		onWire := func(castID string) int {
			n := 0
			for _, e := range front.wireEvents(listStream) {
				if e.CastID == castID {
					n++
				}
			}
			return n
		}
		Expect(onWire(ns + "/steady")).To(Equal(1))

		By("restarting the streamer while the Casts change; the proxy holds the reconnection meanwhile")
		resumes := len(front.streamResumes(listStream))
		front.hold()
		first.stop()
		Eventually(b.subState("ns")).Should(Equal("reconnecting"))
		setStatus(changing, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 20 })
		Expect(k8s.Delete(context.Background(), doomed)).To(Succeed())
		Eventually(func() int { return len(front.streamResumes(listStream)) }).Should(BeNumerically(">", resumes))
		second := startStreamer(allow)
		front.pointAt(second)
		front.release()
		Eventually(b.subState("ns")).Should(Equal("live"))
		Expect(front.streamResumes(listStream)[resumes]).NotTo(BeEmpty(), "the reconnection sent Last-Event-ID")

		By("telling what changed once, and the deletion the new replica never saw")
		Eventually(b.log("ns")).Should(ContainElement(And(HaveField("T", "status"), HaveField("CastID", ns+"/changing"), HaveField("Status", "Running"))))
		Eventually(b.log("ns")).Should(ContainElement(And(HaveField("T", "deleted"), HaveField("CastID", ns+"/doomed"), HaveField("Synthetic", true))))
		Eventually(func() int { return onWire(ns + "/steady") }).Should(Equal(2),
			"the new replica cannot resume from the old one's id: its full snapshot resends the unchanged Cast")
		log, _ := b.log("ns")()
		told := map[string]int{}
		for _, e := range log {
			if e.CastID != "" {
				told[e.T+" "+e.CastID+" "+e.ID]++
			}
		}
		for what, n := range told {
			Expect(n).To(Equal(1), "told twice: %s", what)
		}
		Expect(of("status", log)).To(ContainElement(HaveField("CastID", ns+"/steady")))
		Expect(len(of("status", log))+len(of("progress", log))).To(Equal(4), "steady, changing and doomed once each, then changing's new state")
		Expect(mustEval[int](b, `window.__subs.ns.reconnectCount`)).To(Equal(1))
		Expect(mustEval[[]string](b, `[...window.__subs.ns.casts.keys()]`)).To(ConsistOf(ns+"/steady", ns+"/changing"))
	})

	It("tells a 403, the per-user stream limit and a rate limit apart", func() {
		ns := newNamespace()
		outsider := serviceAccountToken(ns, "outsider")
		token := serviceAccountToken(ns, "tabs")
		allowReading(ns, "tabs")
		user := "system:serviceaccount:" + ns + ":tabs"
		createCast(ns, "first", repo, "build.yml", nil)
		front, b, base := setUp(func(o *streamer.Options) { o.MaxStreamsPerUser = 2 })
		events := "/api/v1/namespaces/" + ns + "/casts/events"
		scope := fmt.Sprintf(`{namespace: %q, baseUrl: %s}`, ns, base)

		By("a user RBAC does not let read the namespace: forbidden, and no retry")
		signIn(b, base, outsider)
		b.record("forbidden", scope)
		Eventually(b.subState("forbidden")).Should(Equal("closed"))
		log, _ := b.log("forbidden")()
		Expect(of("error", log)).To(HaveExactElements(And(HaveField("Code", "forbidden"), HaveField("HTTPStatus", 403), HaveField("IsAPIError", true),
			HaveField("Message", ContainSubstring(`cannot list or watch casts.spell.dev in namespace "`+ns+`"`)))))
		Expect(log[len(log)-1]).To(And(HaveField("State", "closed"), HaveField("Reason", "error")))
		attempts := front.requests("GET", events)
		Consistently(func() int { return front.requests("GET", events) }, "2s", "200ms").Should(Equal(attempts))

		By("a user holding both of their stream slots elsewhere: stream-limit, with the count, and retrying")
		Expect(signIn(b, base, token)).To(Equal(user))
		backend := front.target.Load().String()
		held := []*heldStream{holdStream(backend+events, token), holdStream(backend+events, token)}
		b.record("limited", scope)
		Eventually(b.log("limited")).Should(ContainElement(And(HaveField("Code", "stream-limit"), HaveField("HTTPStatus", 429),
			HaveField("Streams", Equal(map[string]any{"user": user, "open": 2.0, "max": 2.0})), HaveField("RetryAfter", BeNumerically(">=", 5)))))
		Expect(b.subState("limited")()).To(Equal("reconnecting"))
		Expect(b.log("limited")()).To(ContainElement(And(HaveField("T", "status"), HaveField("CastID", ns+"/first"))),
			"the Casts come from the JSON answer meanwhile")
		for _, h := range held {
			h.close()
		}
		Eventually(b.subState("limited"), "40s").Should(Equal("live"))

		By("too many requests: rate-limited, with the streamer's Retry-After")
		front.refuse429(2, "2")
		front.dropStreams()
		Eventually(b.log("limited")).Should(ContainElement(And(HaveField("Code", "rate-limited"), HaveField("HTTPStatus", 429), HaveField("RetryAfter", 2))))
		Eventually(b.subState("limited"), "10s").Should(Equal("live"))
		log, _ = b.log("limited")()
		Expect(of("status", log)).To(HaveLen(1), "the first Cast, told once through all of it")
	})

	It("polls the JSON API where EventSource is missing", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "poller")
		allowReading(ns, "poller")
		polled := createCast(ns, "polled", repo, "build.yml", nil)
		front, b, base := setUp(nil, `delete window.EventSource;`)
		signIn(b, base, token)
		b.record("poll", fmt.Sprintf(`{namespace: %q, baseUrl: %s, pollIntervalMs: 1000}`, ns, base))
		Eventually(b.subState("poll")).Should(Equal("polling"))
		Eventually(b.log("poll")).Should(ContainElement(And(HaveField("T", "status"), HaveField("CastID", ns+"/polled"), HaveField("Status", "Pending"))))

		setStatus(polled, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 55 })
		Eventually(b.log("poll")).Should(ContainElement(And(HaveField("T", "status"), HaveField("Status", "Running"), HaveField("Progress", 55.0))))
		setStatus(polled, func(st *castv1alpha1.CastStatus) { st.Progress, st.Message = 80, "Almost" })
		Eventually(b.log("poll")).Should(ContainElement(And(HaveField("T", "progress"), HaveField("Progress", 80.0), HaveField("Message", "Almost"))))
		setStatus(polled, func(st *castv1alpha1.CastStatus) { st.Phase, st.Conclusion = castv1alpha1.PhaseSucceeded, "success" })
		Eventually(b.log("poll")).Should(ContainElement(And(HaveField("T", "complete"), HaveField("Status", "Succeeded"))))
		Expect(k8s.Delete(context.Background(), polled)).To(Succeed())
		Eventually(b.log("poll")).Should(ContainElement(And(HaveField("T", "deleted"), HaveField("CastID", ns+"/polled"), HaveField("Synthetic", true))))

		log, _ := b.log("poll")()
		Expect(of("status", log)).To(HaveLen(2), "each state once, however often it is polled")
		Expect(of("synced", log)).NotTo(BeEmpty())
		Expect(front.requests("GET", "/api/v1/namespaces/"+ns+"/casts/events")).To(BeZero())
		Expect(front.requests("GET", "/api/v1/namespaces/"+ns+"/casts")).To(BeNumerically(">=", 4))
	})
})
