package faults

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Streamer replicas", Label("streamer"), func() {
	It("behind one Service: clients of a killed replica resume on the other, exactly, and no final state is lost", func(ctx SpecContext) {
		const clients, casts, changed = 100, 30, 15
		ns := newNamespace("replicas")
		token := viewerToken(ctx, ns)
		a, b := freeAddr(), freeAddr()
		replicaA, replicaB := startStreamer(a), startStreamer(b)
		svc, err := NewProxy(a, b)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(svc.Close)
		keys := createPendingCasts(ctx, ns, casts)

		By("100 clients through the Service, spread over both replicas")
		ws := watchers(ctx, "http://"+svc.Addr(), token, ns, clients)
		Eventually(converged(ws, finalStates(ctx, ns))).Should(Succeed())
		onA, onB := openStreams(replicaA), openStreams(replicaB)
		figure("streams on replica A / B", []float64{onA, onB})
		Expect(onA).To(BeNumerically(">", 0), "the Service spreads clients")
		Expect(onB).To(BeNumerically(">", 0), "the Service spreads clients")
		Expect(onA + onB).To(BeNumerically("==", clients))
		drive(ctx, keys, 0, casts, false)
		Eventually(converged(ws, finalStates(ctx, ns))).Should(Succeed())

		By("SIGKILL replica A while Casts finish")
		sentByB := eventsSent(replicaB)
		replicaA.Kill()
		killed := time.Now()
		drive(ctx, keys, 0, changed, true)
		Eventually(converged(ws, finalStates(ctx, ns))).WithTimeout(90 * time.Second).Should(Succeed())
		figure("all clients hold all final states, after replica A died", time.Since(killed).Round(10*time.Millisecond).String())
		Eventually(func() float64 { return openStreams(replicaB) }).Should(BeNumerically("==", clients))
		// Resume ids are resourceVersions, the same on every replica, so
		// a moved client gets only what changed since its last event.
		// A full snapshot for each would be casts+1 events per moved client.
		resent := eventsSent(replicaB) - sentByB
		exact := onA*(changed+1) + onB*changed
		full := onA*(casts+1) + onB*changed
		figure("events replica B sent after A died (exact resume / full snapshots)", []float64{resent, exact, full})
		Expect(resent).To(BeNumerically("<=", exact), "moved clients must resume with what changed, not start over")

		By("replica A back, then replica B killed: clients move to a replica younger than their last event")
		replicaA = startStreamer(a)
		replicaB.Kill()
		killed = time.Now()
		drive(ctx, keys, changed, casts, true)
		Eventually(converged(ws, finalStates(ctx, ns))).WithTimeout(90 * time.Second).Should(Succeed())
		figure("all clients hold all final states, after replica B died", time.Since(killed).Round(10*time.Millisecond).String())
		Eventually(func() float64 { return openStreams(replicaA) }).Should(BeNumerically("==", clients))
	})
})

// openStreams reads cast_streamer_open_streams of the streamer p.
func openStreams(p *Proc) float64 {
	GinkgoHelper()
	m, err := Scrape(p.MetricsURL)
	Expect(err).NotTo(HaveOccurred())
	return m["cast_streamer_open_streams"]
}

// eventsSent sums cast_streamer_events_sent_total over the Cast event
// types (not heartbeats) of the streamer p.
func eventsSent(p *Proc) float64 {
	GinkgoHelper()
	m, err := Scrape(p.MetricsURL)
	Expect(err).NotTo(HaveOccurred())
	sum := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, "cast_streamer_events_sent_total{") && !strings.Contains(k, "heartbeat") {
			sum += v
		}
	}
	return sum
}
