package dashboard_test

import (
	"net/url"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
)

// The example board (docs/examples/cast-board), a React page on another
// origin built on useCastEvents, with React from npm.
var _ = Describe("The React hook in the example board", func() {
	It("re-renders as a Cast moves Queued → Running → Succeeded", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "reader")
		allowReading(ns, "reader")
		build := createCast(ns, "build", repo, "build.yml", func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseQueued })
		createCast(ns, "docs", repo, "docs.yml", nil)

		app, serve := startAppOrigin()
		front := startFront(startStreamer(func(o *streamer.Options) { o.AllowedOrigins = []string{app.url} }))
		serve(front.url)
		b := openBrowser()
		q := url.Values{"streamer": {front.url}, "namespace": {ns}, "cast": {ns + "/build"}}
		b.do(chromedp.Navigate(app.url + "/board.html?" + q.Encode()))

		By("signing in through the board's form")
		Eventually(b.visible("token")).Should(BeTrue())
		b.paste("#token", token)
		b.do(chromedp.Click(chromedp.CSS("#signin button[type=submit]")))

		By("showing the Cast and the namespace live")
		Eventually(b.text("detail-phase")).Should(Equal("Queued 0%"))
		Eventually(func() (string, error) {
			return eval[string](b, `document.getElementById('list-state').dataset.connected`)
		}).Should(Equal("true"))
		Eventually(func() (int, error) { return eval[int](b, `document.querySelectorAll('#list tr[data-cast-id]').length`) }).Should(Equal(2))
		renders := func() (int, error) { return eval[int](b, `Number(document.getElementById('detail').dataset.renders)`) }
		before, err := renders()
		Expect(err).NotTo(HaveOccurred())

		By("driving the Cast: every state re-renders the page")
		setStatus(build, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, 40, "Compiling"
		})
		Eventually(b.text("detail-phase")).Should(Equal("Running 40% Compiling"))
		setStatus(build, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message, st.Conclusion = castv1alpha1.PhaseSucceeded, 100, "Done", "success"
		})
		Eventually(b.text("detail-phase")).Should(Equal("Succeeded 100% Done"))
		Expect(eval[[]string](b, `[...document.querySelectorAll('#phases li')].map((li) => li.textContent)`)).
			To(HaveExactElements("Queued", "Running", "Succeeded"))
		Expect(renders()).To(BeNumerically(">=", before+2))

		By("ending the Cast's subscription after complete, while the list goes on")
		Eventually(func() (string, error) { return eval[string](b, `document.getElementById('detail').dataset.state`) }).Should(Equal("closed"))
		Eventually(func() (string, error) {
			return eval[string](b, `document.querySelector('#list tr[data-cast-id="`+ns+`/build"] .phase')?.textContent ?? ''`)
		}).Should(Equal("Succeeded"))
		Eventually(func() ([]string, error) {
			return eval[[]string](b, `[...document.querySelectorAll('#toasts li')].map((li) => li.textContent)`)
		}).Should(ContainElement("build Succeeded"))
		Expect(front.requests("GET", "/api/v1/namespaces/"+ns+"/casts/build/events")).To(Equal(1))
	})
})
