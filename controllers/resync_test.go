package controllers

import (
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

func cancelled(runID int64) bool {
	for _, c := range fakeGitHub.Cancels() {
		if c.RunID == runID && c.Status < 300 {
			return true
		}
	}
	return false
}

var _ = Describe("Resync, timeout and deletion", func() {
	t0 := time.Now().UTC().Truncate(time.Second)

	It("converges from the REST API when webhooks were missed", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5100, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0,
			Jobs: []ghapitest.Job{{ID: 1, Name: "cast", Status: "in_progress",
				Steps: []ghapitest.Step{{Number: 1, Name: "Set up", Status: "completed"}, {Number: 2, Name: "Brew", Status: "in_progress"}}}},
		})
		cast := createCast("missed-webhooks", attached(5100))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseRunning),
			HaveField("Status.Progress", BeEquivalentTo(50)), HaveField("Status.Message", "cast: Brew")))

		fakeGitHub.UpdateRun(5100, func(r *ghapitest.Run) {
			r.Status, r.Conclusion, r.UpdatedAt = "completed", "success", time.Now().Add(time.Second)
			r.Jobs[0].Status, r.Jobs[0].Conclusion = "completed", "success"
			r.Jobs[0].StartedAt, r.Jobs[0].CompletedAt = t0, t0.Add(5*time.Minute)
		})
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))
		Expect(fetch(cast)(Default).Status.CostCents).To(BeEquivalentTo(4), "5 minutes at 0.8 cents")
	})

	It("converges after a controller restart while webhooks went nowhere", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5200, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0})
		cast := createCast("restart", attached(5200))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseRunning))

		stopTheManager()
		fakeGitHub.UpdateRun(5200, func(r *ghapitest.Run) {
			r.Status, r.Conclusion, r.UpdatedAt = "completed", "failure", time.Now().Add(time.Second)
		})
		startManager()
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
	})

	It("backs off while GitHub fails and converges once it recovers", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5250, Repository: repo, Workflow: "cast.yml", Status: "completed", Conclusion: "success"})
		fakeGitHub.InjectFault(ghapitest.Fault{PathContains: "/runs/5250", Times: 3, Status: 500})
		cast := createCast("github-flaky", attached(5250))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseSucceeded))
		calls := 0
		for _, r := range fakeGitHub.Requests() {
			if strings.HasSuffix(r.Path, "/runs/5250") {
				calls++
			}
		}
		Expect(calls).To(BeNumerically("<=", 6), "errors must back off, not loop hot")
	})

	It("waits for GitHub's rate-limit reset instead of retrying at once", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5260, Repository: repo, Workflow: "cast.yml", Status: "completed", Conclusion: "success"})
		reset := time.Now().Add(3 * time.Second)
		fakeGitHub.InjectFault(ghapitest.Fault{PathContains: "/runs/5260", Times: 1, Status: 403, RateLimited: true, Reset: reset})
		cast := createCast("rate-limited", attached(5260))
		Eventually(fetch(cast)).Should(phase(castv1alpha1.PhaseSucceeded))
		Expect(time.Now()).To(BeTemporally(">=", reset.Truncate(time.Second)), "converged before the reset GitHub named")
	})

	It("cancels the run and marks the Cast TimedOut when spec.timeout passes", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5300, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0})
		cast := createCast("slow", func(c *castv1alpha1.Cast) {
			c.Spec.RunID = ptrInt64(5300)
			c.Spec.Timeout = &metav1.Duration{Duration: 3 * time.Second}
		})
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseTimedOut), conditionTrue(castv1alpha1.ConditionFailed)))
		Expect(cancelled(5300)).To(BeTrue())
		Expect(fetch(cast)(Default).Status.Message).To(ContainSubstring("timed out after 3s; run 5300 cancelled"))
		Eventually(eventReasons(cast)).Should(ContainElement("TimedOut"))
	})

	It("cancels the run of a Cast deleted before it finished", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5400, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0})
		cast := createCast("deleted", attached(5400))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseRunning), HaveField("Finalizers", ContainElement(Finalizer))))
		Expect(k8s.Delete(ctx, cast)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, keyOf(cast), &castv1alpha1.Cast{})) }).Should(BeTrue())
		Expect(cancelled(5400)).To(BeTrue())
	})

	It("never blocks deletion forever when GitHub cannot cancel", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 5500, Repository: repo, Workflow: "cast.yml", Status: "in_progress", RunStartedAt: t0})
		cast := createCast("deleted-offline", attached(5500))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseRunning), HaveField("Finalizers", ContainElement(Finalizer))))
		fakeGitHub.InjectFault(ghapitest.Fault{Method: "POST", PathContains: "/runs/5500/cancel", Times: 1000, Status: 503})
		DeferCleanup(fakeGitHub.ClearFaults)
		Expect(k8s.Delete(ctx, cast)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, keyOf(cast), &castv1alpha1.Cast{})) }).
			WithTimeout(30 * time.Second).Should(BeTrue())
		Expect(cancelled(5500)).To(BeFalse())
		Eventually(eventReasons(cast)).Should(ContainElement("CancelFailed"))
	})
})

var _ = Describe("Deployment manifests", Ordered, func() {
	var root, kubeconfig string
	BeforeAll(func() {
		var err error
		root, err = localcluster.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(writeFile(kubeconfig, cluster.Env.KubeConfig)).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cast-system"}})).To(Succeed())
	})

	It("run the controller as a GitHub App with the github-app component", func() {
		// An overlay as a user writes one: config/default plus the component.
		dir := GinkgoT().TempDir()
		Expect(exec.Command("cp", "-r", filepath.Join(root, "config"), dir).Run()).To(Succeed())
		Expect(writeFile(filepath.Join(dir, "kustomization.yaml"),
			[]byte("resources: [config/default]\ncomponents: [config/components/github-app]\n"))).To(Succeed())
		rendered, err := exec.Command("kubectl", "kustomize", dir).Output()
		Expect(err).NotTo(HaveOccurred(), "kubectl kustomize with the github-app component")
		for _, want := range []string{"--github-app-id=$(GITHUB_APP_ID)", "key: githubAppID",
			"--github-app-private-key-file=/etc/cast-operator/github-app/githubAppPrivateKey", "secretName: github-app"} {
			Expect(string(rendered)).To(ContainSubstring(want))
		}
		apply := exec.Command("kubectl", "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-f", "-")
		apply.Stdin = strings.NewReader(string(rendered))
		out, err := apply.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring("deployment.apps/cast-operator-controller-manager"))
	})

	It("render with kustomize and pass a server-side dry run", func() {
		rendered, err := exec.Command("kubectl", "kustomize", filepath.Join(root, "config", "default")).Output()
		Expect(err).NotTo(HaveOccurred(), "kubectl kustomize config/default")
		apply := exec.Command("kubectl", "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-f", "-")
		apply.Stdin = strings.NewReader(string(rendered))
		out, err := apply.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		for _, want := range []string{
			"customresourcedefinition.apiextensions.k8s.io/casts.spell.dev",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-manager-role",
			"deployment.apps/cast-operator-controller-manager",
			"service/cast-operator-webhook",
			"deployment.apps/cast-operator-streamer",
			"service/cast-operator-streamer",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-streamer-role",
			"service/cast-operator-controller-manager-metrics-service",
			"service/cast-operator-streamer-metrics-service",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-metrics-auth-role",
			"clusterrolebinding.rbac.authorization.k8s.io/cast-operator-metrics-auth-rolebinding",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-metrics-reader",
			"validatingadmissionpolicy.admissionregistration.k8s.io/cast-operator-cast-requester",
			"validatingadmissionpolicybinding.admissionregistration.k8s.io/cast-operator-cast-requester",
		} {
			Expect(string(out)).To(ContainSubstring(want))
		}
	})
})
