package dashboard_test

import (
	"encoding/json"
	"fmt"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// scriptedEventSource stands in for the browser's EventSource, so the page
// can be handed the stream an etcd restore produces (test/faults'
// etcd-restore spec has the streamer produce it for real: states older
// than those sent before, in a full snapshot). window.__streams holds every
// instance; emit(type, data, id) dispatches an event, drop() a lost
// connection the browser reconnects, reopen() that reconnection.
const scriptedEventSource = `window.__streams = [];
window.EventSource = class {
  static CONNECTING = 0; static OPEN = 1; static CLOSED = 2;
  constructor(url) { this.url = url; this.readyState = 0; this.listeners = {}; window.__streams.push(this);
    setTimeout(() => this.reopen(), 0); }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  close() { this.readyState = 2; }
  reopen() { this.readyState = 1; this.onopen?.(new Event('open')); }
  drop() { this.readyState = 0; this.onerror?.(new Event('error')); }
  emit(type, data, id) {
    const ev = new MessageEvent(type, { data: JSON.stringify(data), lastEventId: id });
    for (const fn of this.listeners[type] || []) fn(ev);
  }
};`

var _ = Describe("The dashboard after an etcd restore", func() {
	It("shows the restored, older states of a full snapshot and drops the Casts it does not hold", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "restored")
		allowReading(ns, "restored")
		front := startFront(startStreamer())
		b := openBrowser(scriptedEventSource)
		b.do(chromedp.Navigate(front.url + "/#/namespaces/" + ns))
		b.signIn(token)
		Eventually(func() (int, error) { return eval[int](b, `window.__streams.length`) }).Should(Equal(1))
		Eventually(b.connState).Should(Equal("live"))

		snap := func(name, phase string, progress int, rv string) map[string]any {
			return map[string]any{"castId": ns + "/" + name, "namespace": ns, "name": name, "status": phase,
				"progress": progress, "message": phase + " at " + rv, "resourceVersion": rv, "artifacts": []any{}}
		}
		emit := func(kind string, data any, id string) {
			GinkgoHelper()
			js, err := json.Marshal(data)
			Expect(err).NotTo(HaveOccurred())
			mustEval[any](b, fmt.Sprintf(`window.__streams.at(-1).emit(%q, %s, %q), null`, kind, js, id))
		}

		By("the history the restore will take away")
		emit("status", snap("build", "Running", 40, "5"), "5")
		emit("synced", map[string]bool{"resumed": false}, "5")
		emit("complete", snap("build", "Succeeded", 100, "10"), "10")
		emit("status", snap("created-later", "Running", 10, "11"), "11")
		Eventually(b.rowValue(ns + "/build")).Should(And(HaveField("Phase", "Succeeded"), HaveField("Progress", 100.0)))
		Eventually(b.rowIDs).Should(ConsistOf(ns+"/build", ns+"/created-later"))

		By("the streamer ends the stream; the reconnection gets a full snapshot of the restored state")
		mustEval[any](b, `window.__streams.at(-1).drop(), null`)
		Eventually(b.connState).Should(Equal("reconnecting"))
		mustEval[any](b, `window.__streams.at(-1).reopen(), null`)
		Eventually(b.connState).Should(Equal("live"))
		emit("status", snap("build", "Running", 40, "5"), "5")
		emit("synced", map[string]bool{"resumed": false}, "9")
		Eventually(b.rowValue(ns+"/build")).Should(And(HaveField("Phase", "Running"), HaveField("Progress", 40.0), HaveField("Message", "Running at 5")),
			"the older state of the snapshot wins over the newer one shown before")
		Eventually(b.rowIDs).Should(ConsistOf(ns+"/build"), "a Cast the snapshot does not hold is gone")

		By("the new history goes on from below the ids of the lost one")
		emit("progress", snap("build", "Running", 60, "8"), "8")
		Eventually(b.rowValue(ns + "/build")).Should(HaveField("Progress", 60.0))
		Expect(b.cspViolations()).To(BeEmpty())
	})
})
