package controllers

import (
	"context"
	"os/exec"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// kubectlWait runs `kubectl wait --for=condition=COND cast/NAME` as a user
// would and reports whether it succeeded, with what it printed.
func kubectlWait(kubeconfig, cond, name string, timeout time.Duration) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kubeconfig, "-n", "default", "wait",
		"--for=condition="+cond, "cast/"+name, "--timeout="+timeout.String()).CombinedOutput()
	return err == nil, string(out)
}

var _ = Describe("kubectl wait on a Cast's outcome", func() {
	It("waits for success with Complete and for failure with Failed, never one for the other", func() {
		t0 := time.Now().UTC().Truncate(time.Second)
		kubeconfig, err := cluster.Kubeconfig(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		end := func(name string, id int64, conclusion string, want castv1alpha1.CastPhase, cond string) {
			fakeGitHub.AddRun(ghapitest.Run{ID: id, Repository: repo, Workflow: "cast.yml", Status: "queued"})
			cast := createCast(name, attached(id))
			deliver("workflow_run", runPayload(runEvent{Action: "completed", Repo: repo, ID: id, Attempt: 1,
				Status: "completed", Conclusion: conclusion, Started: t0, Updated: t0.Add(time.Minute)}))
			Eventually(fetch(cast)).Should(And(phase(want), conditionTrue(cond)))
		}
		end("wait-succeeds", 5101, "success", castv1alpha1.PhaseSucceeded, castv1alpha1.ConditionComplete)
		end("wait-fails", 5102, "failure", castv1alpha1.PhaseFailed, castv1alpha1.ConditionFailed)

		ok, out := kubectlWait(kubeconfig, castv1alpha1.ConditionComplete, "wait-succeeds", 20*time.Second)
		Expect(ok).To(BeTrue(), out)
		Expect(out).To(ContainSubstring("condition met"))
		ok, out = kubectlWait(kubeconfig, castv1alpha1.ConditionFailed, "wait-fails", 20*time.Second)
		Expect(ok).To(BeTrue(), out)

		ok, out = kubectlWait(kubeconfig, castv1alpha1.ConditionComplete, "wait-fails", 2*time.Second)
		Expect(ok).To(BeFalse(), "kubectl wait for Complete returned 0 for a failed Cast: %s", out)
		ok, out = kubectlWait(kubeconfig, castv1alpha1.ConditionFailed, "wait-succeeds", 2*time.Second)
		Expect(ok).To(BeFalse(), "kubectl wait for Failed returned 0 for a succeeded Cast: %s", out)
	})
})
