package faults

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

var _ = Describe("Controller killed", Label("controller"), func() {
	It("with SIGKILL mid-lifecycle while webhooks go nowhere: after restart, resync converges every Cast to its run's final state", func(ctx SpecContext) {
		const n = 50
		op := newOperator()
		ns := newNamespace("controller-kill")
		// Half the runs are already running on GitHub, half still queued.
		ids := op.addRuns(7_000_000, n, "in_progress", nil)
		for i := n / 2; i < n; i++ {
			op.gh.UpdateRun(ids[i], func(r *ghapitest.Run) { r.Status, r.Jobs[0].Status = "queued", "queued" })
		}
		op.start()
		keys := createAttached(ctx, ns, ids)

		By("killing the controller once some Casts follow their runs, before all do")
		Eventually(func() int {
			return count(phases(ctx, keys), func(p castv1alpha1.CastPhase) bool {
				return p == castv1alpha1.PhaseRunning || p == castv1alpha1.PhaseQueued
			})
		}).WithPolling(20 * time.Millisecond).Should(BeNumerically(">=", n/4))
		op.proc.Kill()
		followed := count(phases(ctx, keys), func(p castv1alpha1.CastPhase) bool { return p != castv1alpha1.PhasePending && p != "" })
		figure("Casts following their run when the controller was killed", followed)

		By("every run finishing on GitHub while its webhook finds nobody")
		hc := &http.Client{Timeout: 5 * time.Second}
		for i, id := range ids {
			op.gh.UpdateRun(id, func(r *ghapitest.Run) { finishRun(r, conclusionOf(i)) })
			run, _ := op.gh.Run(id)
			_, _, err := post(hc, op.webhookURL(), webhookSecret, runDelivery(id, "completed", conclusionOf(i), run.RunStartedAt, run.UpdatedAt))
			Expect(err).To(HaveOccurred(), "the receiver is down: the delivery is lost, as GitHub never retries")
		}

		By("a new controller process with empty memory")
		mark := len(op.gh.Requests())
		op.start()
		restarted := time.Now()
		Eventually(allFinished(ctx, keys, func(i int) castv1alpha1.CastPhase { return phaseFor(conclusionOf(i)) })).
			WithTimeout(90 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
		figure("50 Casts converged after restart", time.Since(restarted).Round(10*time.Millisecond).String())
		figure("GitHub requests after restart (50 runs: run, artifacts, jobs)", len(op.gh.Requests())-mark)
	})
})
