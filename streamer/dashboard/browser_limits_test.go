package dashboard_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
)

var _ = Describe("The dashboard at the per-user stream limit", func() {
	It("says when the user has too many streams open, and goes live by itself once one closes", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "tabs")
		allowReading(ns, "tabs")
		c := createCast(ns, "first", repo, "build.yml", nil)
		createCast(ns, "second", repo, "build.yml", nil)
		user := "system:serviceaccount:" + ns + ":tabs"

		backend := startStreamer(func(o *streamer.Options) { o.MaxStreamsPerUser = 2 })
		front := startFront(backend)

		By("holding both of the user's stream slots, as other tabs or CLIs would")
		events := "/api/v1/namespaces/" + ns + "/casts/events"
		held := []*heldStream{holdStream(backend.url.String()+events, token), holdStream(backend.url.String()+events, token)}

		b := openBrowser()
		b.do(chromedp.Navigate(front.url + "/#/namespaces/" + ns))
		b.signIn(token)
		Eventually(b.text("user-name")).Should(Equal(user))
		tooMany := MatchRegexp(`^Too many open streams \(2 of 2\) for ` + regexp.QuoteMeta(user) +
			` — close other dashboard tabs or CLIs; retrying in \d+ s\.$`)
		Eventually(b.text("list-alert")).Should(tooMany)
		Expect(b.visible("list-alert")()).To(BeTrue())
		Expect(b.connState()).To(Equal("reconnecting"))
		Eventually(b.rowIDs).Should(ConsistOf(ns+"/first", ns+"/second"), "the Casts show from the JSON answer meanwhile")

		By("retrying while the slots stay taken, and saying so again")
		attempts := front.requests("GET", events)
		Eventually(func() int { return front.requests("GET", events) }, "20s").Should(BeNumerically(">", attempts))
		Eventually(front.requests).WithArguments("GET", "/api/v1/session").Should(BeNumerically(">=", 2))
		Expect(b.text("list-alert")()).To(tooMany)
		Expect(b.connState()).NotTo(Equal("live"))

		By("closing the held streams: the page goes live without a reload")
		for _, h := range held {
			h.close()
		}
		Eventually(b.connState, "40s").Should(Equal("live"))
		Expect(b.visible("list-alert")()).To(BeFalse(), "the notice goes once the stream is back")
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 30 })
		Eventually(b.rowValue(ns + "/first")).Should(And(HaveField("Phase", "Running"), HaveField("Progress", 30.0)))
		Expect(b.rowIDs()).To(ConsistOf(ns+"/first", ns+"/second"))
		Expect(b.cspViolations()).To(BeEmpty())
	})
})

// heldStream is an SSE stream held open from Go, as another tab or a CLI
// of the same user would hold one.
type heldStream struct {
	resp   *http.Response
	cancel context.CancelFunc
}

// holdStream opens url's stream with a bearer token and reads up to
// "synced", so the stream holds one of the user's slots on the streamer.
func holdStream(url, token string) *heldStream {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	Expect(err).NotTo(HaveOccurred())
	h := &heldStream{resp: resp, cancel: cancel}
	DeferCleanup(h.close)
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	synced := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == "event: synced" {
				close(synced)
				break
			}
		}
		_, _ = io.Copy(io.Discard, resp.Body) // keep reading, as a client does, until closed
	}()
	Eventually(synced).Should(BeClosed(), "the held stream gets its snapshot")
	return h
}

// close ends the stream, which frees its slot. Safe to call twice.
func (h *heldStream) close() {
	h.cancel()
	_ = h.resp.Body.Close()
}
