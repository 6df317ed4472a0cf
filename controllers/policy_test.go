package controllers

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

var _ = Describe("The requester policy (config/policy)", Ordered, func() {
	var kubeconfig, policy string
	BeforeAll(func() {
		root, err := localcluster.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		policy = filepath.Join(root, "config", "policy", "requester.yaml")
		kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(kubeconfig, cluster.Env.KubeConfig, 0o600)).To(Succeed())
		out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "apply", "-f", policy).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		DeferCleanup(func() {
			out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "delete", "-f", policy).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(out))
		})
	})

	// as is a client for another user, allowed everything by RBAC, so only
	// the policy can refuse it.
	as := func(user string) client.Client {
		GinkgoHelper()
		c := rest.CopyConfig(cfg)
		c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters"}}
		cl, err := client.New(c, client.Options{Scheme: localcluster.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		return cl
	}

	It("refuses a cancel or re-run naming someone other than the user making it, and takes the user's own", func() {
		fakeGitHub.AddRun(ghapitest.Run{ID: 6500, Repository: repo, Workflow: "cast.yml", Status: "completed", Conclusion: "failure",
			Jobs: []ghapitest.Job{{ID: 65001, Name: "cast", Status: "completed", Conclusion: "failure"}}})
		cast := createCast("policy-requester", attached(6500))
		Eventually(fetch(cast)).Should(And(phase(castv1alpha1.PhaseFailed), conditionTrue(castv1alpha1.ConditionFailed)))
		mallory := as("mallory")

		rerun := func(by string, opts ...client.PatchOption) error {
			got := fetch(cast)(Default)
			patch := client.MergeFrom(got.DeepCopy())
			got.Spec.Rerun = &castv1alpha1.RerunRequest{RequestedBy: by, AfterAttempt: 1}
			return mallory.Patch(ctx, got, patch, opts...)
		}
		// The policy takes effect once the API server has loaded it; dry
		// runs pass admission and change nothing until then.
		refused := MatchError(ContainSubstring("spec.rerun.requestedBy must name the user making the request: mallory"))
		Eventually(func() error { return rerun("alice", client.DryRunAll) }).Should(refused)
		Expect(rerun("alice")).To(refused)
		Expect(rerun("mallory")).To(Succeed())
		Eventually(fetch(cast)).Should(HaveField("Status.Rerun", And(Not(BeNil()), HaveField("RequestedBy", "mallory"))))

		running := createCast("policy-cancel", nil)
		Eventually(fetch(running)).Should(HaveField("Status.RunID", Not(BeZero())))
		got := fetch(running)(Default)
		patch := client.MergeFrom(got.DeepCopy())
		got.Spec.Cancel = &castv1alpha1.CancelRequest{RequestedBy: "alice", Attempt: 1}
		Expect(mallory.Patch(ctx, got, patch)).To(MatchError(
			ContainSubstring("spec.cancel.requestedBy must name the user making the request: mallory")))
		Expect(fetch(running)(Default).Spec.Cancel).To(BeNil())
	})
})
