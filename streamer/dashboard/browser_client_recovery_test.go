package dashboard_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
)

// The browser client getting its feed back: what it concludes from a
// filtered snapshot, and how it reconnects when the network returns.
var _ = Describe("The browser client recovering", func() {
	succeeded := func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Progress, st.Conclusion = castv1alpha1.PhaseSucceeded, 100, "success"
	}
	// start runs a streamer that allows the page's origin (allow) behind a
	// front proxy, and a page with the client imported and signed in as
	// ns's ServiceAccount sa, which may read ns.
	start := func(ns, sa string) (front *frontServer, backend *streamerProc, b *browser, base string, allow func(*streamer.Options)) {
		GinkgoHelper()
		token := serviceAccountToken(ns, sa)
		allowReading(ns, sa)
		app, serve := startAppOrigin()
		allow = func(o *streamer.Options) { o.AllowedOrigins = []string{app.url} }
		backend = startStreamer(allow)
		front = startFront(backend)
		serve(front.url)
		b = openClientPage(app, front.url)
		base = jsString(front.url)
		mustEval[string](b, fmt.Sprintf(`cc.signIn(%s, {baseUrl: %s}).then((me) => me.user)`, jsString(token), base))
		return front, backend, b, base, allow
	}

	It("does not take a Cast a filtered snapshot leaves out for a deleted one", func() {
		ns := newNamespace()
		createCast(ns, "done", repo, "build.yml", succeeded)
		rerun := createCast(ns, "rerun", repo, "build.yml", succeeded)
		doomed := createCast(ns, "doomed", repo, "build.yml", succeeded)
		front, first, b, base, allow := start(ns, "outcomes")
		b.record("ends", fmt.Sprintf(`{namespace: %q, events: ['complete', 'deleted'], baseUrl: %s}`, ns, base))
		Eventually(b.log("ends")).Should(ContainElement(HaveField("T", "synced")))
		log, _ := b.log("ends")()
		Expect(of("complete", log)).To(HaveLen(3))

		By("restarting the streamer while one Cast runs again and another is deleted")
		listStream := "/api/v1/namespaces/" + ns + "/casts/events"
		resumes := len(front.streamResumes(listStream))
		front.hold()
		first.stop()
		Eventually(b.subState("ends")).Should(Equal("reconnecting"))
		setStatus(rerun, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Conclusion = castv1alpha1.PhaseRunning, 10, ""
		})
		Expect(k8s.Delete(context.Background(), doomed)).To(Succeed())
		Eventually(func() int { return len(front.streamResumes(listStream)) }).Should(BeNumerically(">", resumes))
		front.pointAt(startStreamer(allow))
		front.release()

		By("reporting the deleted Cast, and not the one whose state (a status) was not asked for")
		Eventually(b.log("ends")).Should(ContainElement(And(HaveField("T", "deleted"), HaveField("CastID", ns+"/doomed"), HaveField("Synthetic", true))))
		Eventually(func() ([]logEntry, error) {
			log, err := b.log("ends")()
			return of("synced", log), err
		}).Should(HaveLen(2))
		log, _ = b.log("ends")()
		Expect(of("deleted", log)).To(HaveExactElements(HaveField("CastID", ns+"/doomed")))
		Expect(mustEval[[]string](b, `[...window.__subs.ends.casts.keys()]`)).To(ConsistOf(ns+"/done", ns+"/rerun"))
		Expect(front.requests("GET", "/api/v1/namespaces/"+ns+"/casts")).To(Equal(1), "the JSON list settled it")
	})

	It("opens no second stream when the network returns while it asks why the stream failed", func() {
		ns := newNamespace()
		createCast(ns, "first", repo, "build.yml", nil)
		front, _, b, base, _ := start(ns, "online")
		b.record("ns", fmt.Sprintf(`{namespace: %q, baseUrl: %s}`, ns, base))
		Eventually(b.log("ns")).Should(ContainElement(HaveField("T", "synced")))
		stream, list := "/api/v1/namespaces/"+ns+"/casts/events", "/api/v1/namespaces/"+ns+"/casts"

		By("refusing the reconnection, so the client asks the JSON API, whose answer the proxy holds")
		front.hold()
		front.refuse429(1, "1")
		front.dropStreams()
		Eventually(func() int { return front.requests("GET", list) }).Should(Equal(1))
		streams := front.requests("GET", stream)

		By("the network coming back meanwhile")
		mustEval[any](b, `window.dispatchEvent(new Event('online')), null`)
		Consistently(func() int { return front.requests("GET", stream) }, "1s", "100ms").Should(Equal(streams),
			"the failure check decides when to reconnect")
		front.release()
		Eventually(b.subState("ns")).Should(Equal("live"))
		Expect(front.requests("GET", stream)).To(Equal(streams+1), "one new stream")
		Consistently(b.subState("ns"), "1s", "100ms").Should(Equal("live"), "and it stays open")
		log, _ := b.log("ns")()
		Expect(of("status", log)).To(HaveLen(1), "the Cast told once through all of it")
	})
})
