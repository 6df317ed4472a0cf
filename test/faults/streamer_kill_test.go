package faults

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

var _ = Describe("Streamer killed", Label("streamer"), func() {
	It("with SIGKILL and restarted while 200 clients stream: every client ends holding every Cast's final state", func(ctx SpecContext) {
		const clients, casts = 200, 30
		ns := newNamespace("streamer-kill")
		token := viewerToken(ctx, ns)
		addr := freeAddr()
		first := startStreamer(addr)
		keys := createPendingCasts(ctx, ns, casts)

		By("200 Go clients following the namespace")
		ws := watchers(ctx, "http://"+addr, token, ns, clients)
		Eventually(converged(ws, finalStates(ctx, ns))).Should(Succeed())

		By("Casts moving while the streamer is up")
		drive(ctx, keys, 0, 10, false)
		drive(ctx, keys, 0, 5, true)

		By("SIGKILL: no shutdown handler, streams cut mid-flight")
		first.Kill()
		killed := time.Now()
		drive(ctx, keys, 5, 20, true)   // finished during the outage
		drive(ctx, keys, 20, 30, false) // still running during the outage
		time.Sleep(2 * time.Second)     // long enough for clients to back off a few times

		By("a new streamer on the same address")
		startStreamer(addr)
		restarted := time.Now()
		figure("streamer outage (kill to ready)", restarted.Sub(killed).Round(10*time.Millisecond).String())
		drive(ctx, keys, 20, 30, true) // finished after the restart

		want := finalStates(ctx, ns)
		for _, w := range want {
			Expect(castv1alpha1.CastPhase(w.Phase).IsTerminal()).To(BeTrue(), w.CastID)
		}
		Eventually(converged(ws, want)).WithTimeout(90 * time.Second).Should(Succeed())
		figure("all 200 clients hold all 30 final states, after restart", time.Since(restarted).Round(10*time.Millisecond).String())
	})
})
