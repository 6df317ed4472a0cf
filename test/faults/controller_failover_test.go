package faults

import (
	"cmp"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// leaseName is the controller's leader-election Lease (--leader-elect).
const leaseName = "cast-operator.spell.dev"

var _ = Describe("Controller leader killed", Label("controller"), func() {
	It("the standby takes over, applies the webhooks it was sent while standing by, and a clean stop hands over at once", func(ctx SpecContext) {
		const n = 30
		op := newOperator()
		ns := newNamespace("failover")
		ids := op.addRuns(8_000_000, n, "in_progress", nil)
		elect := []string{"--leader-elect", "--leader-elect-namespace", ns,
			"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms"}

		By("replica A leads, replica B stands by")
		a := op.replica(elect...)
		Eventually(leaseHolder(ctx, ns)).ShouldNot(BeEmpty())
		idA := leaseHolder(ctx, ns)()
		b := op.replica(elect...)
		keys := createAttached(ctx, ns, ids)
		Eventually(func() int {
			return count(phases(ctx, keys), func(p castv1alpha1.CastPhase) bool { return p == castv1alpha1.PhaseRunning })
		}).Should(Equal(n))
		Expect(leaseHolder(ctx, ns)()).To(Equal(idA))

		By("SIGKILL the leader; GitHub's REST API fails, so only webhooks tell what happened")
		op.gh.InjectFault(ghapitest.Fault{Method: http.MethodGet, PathContains: "/actions/runs/", Status: http.StatusBadGateway})
		a.proc.Kill()
		killed := time.Now()
		hc := &http.Client{Timeout: 5 * time.Second}
		for i, id := range ids {
			op.gh.UpdateRun(id, func(r *ghapitest.Run) { finishRun(r, conclusionOf(i)) })
			run, _ := op.gh.Run(id)
			// The Service now routes to the only Pod left: the standby.
			code, body, err := post(hc, b.webhookURL(), webhookSecret, runDelivery(id, "completed", conclusionOf(i), run.RunStartedAt, run.UpdatedAt))
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(http.StatusAccepted), body)
		}
		Expect(leaseHolder(ctx, ns)()).To(Equal(idA), "the webhooks must have reached B while it stood by")
		Eventually(func() []castv1alpha1.CastPhase { return phases(ctx, keys) }).WithTimeout(time.Minute).
			Should(Equal(wantPhases(n)))
		figure("final phases from webhooks alone, after the leader was killed", time.Since(killed).Round(10*time.Millisecond).String())
		idB := leaseHolder(ctx, ns)()
		Expect(idB).NotTo(Or(BeEmpty(), Equal(idA)))

		By("GitHub's REST API back: artifacts and cost collected")
		op.gh.ClearFaults()
		Eventually(allFinished(ctx, keys, func(i int) castv1alpha1.CastPhase { return phaseFor(conclusionOf(i)) })).
			WithTimeout(time.Minute).Should(Succeed())

		By("a new standby, then SIGTERM to the leader: the Lease is released before it exits")
		op.replica(elect...)
		Expect(b.proc.Stop(20 * time.Second)).To(Succeed())
		stopped := time.Now()
		Expect(leaseHolder(ctx, ns)()).NotTo(Equal(idB), "a clean stop must release the Lease")
		late := createAttached(ctx, ns, op.addRuns(8_100_000, 1, "in_progress", nil))
		Eventually(func() []castv1alpha1.CastPhase { return phases(ctx, late) }).
			Should(Equal([]castv1alpha1.CastPhase{castv1alpha1.PhaseRunning}))
		figure("a Cast created after the leader's clean stop followed its run after", time.Since(stopped).Round(10*time.Millisecond).String())
	})
})

// controllerReplica is one controller process of a leader-elected
// deployment; each has its own webhook address, as each Pod has its IP.
type controllerReplica struct {
	proc        *Proc
	webhookAddr string
}

func (r *controllerReplica) webhookURL() string {
	return "http://" + r.webhookAddr + "/webhooks/github"
}

// replica starts one more controller process for o with extra flags.
func (o *operator) replica(args ...string) *controllerReplica {
	GinkgoHelper()
	r := &controllerReplica{webhookAddr: freeAddr()}
	p, err := StartController(ControllerConfig{Binary: binary, Kubeconfig: kubeconfig, LogPath: logPath("controller"),
		WebhookAddr: r.webhookAddr, WebhookSecret: webhookSecret,
		GitHubURL: cmp.Or(o.apiURL, o.gh.URL), TokenFile: o.tokenFile, Resync: resync, Args: args})
	Expect(err).NotTo(HaveOccurred())
	stopOnCleanup(p)
	r.proc = p
	return r
}

// leaseHolder reads who holds the controller's Lease in ns ("" for
// nobody, as a released Lease says).
func leaseHolder(ctx SpecContext, ns string) func() string {
	return func() string {
		var l coordinationv1.Lease
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: leaseName}, &l); err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
}

// wantPhases is the phase each Cast ends in, by index (conclusionOf).
func wantPhases(n int) []castv1alpha1.CastPhase {
	out := make([]castv1alpha1.CastPhase, n)
	for i := range out {
		out[i] = phaseFor(conclusionOf(i))
	}
	return out
}
