package config

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/format"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

func TestManifests(t *testing.T) {
	RegisterFailHandler(Fail)
	// Object diffs are long; print them whole.
	format.MaxLength = 0
	RunSpecs(t, "Manifests suite")
}

var (
	ctx context.Context
	// cluster is a real kube-apiserver with the Cast CRD and the
	// third-party CRDs the optional objects need (thirdpartyCRDs).
	cluster *kubetest.Cluster
	// kubeconfig is the cluster's kubeconfig file, for kubectl.
	kubeconfig string
	// root is the repository's root directory.
	root string
)

var _ = BeforeSuite(func() {
	ctx = context.Background()
	var err error
	root, err = localcluster.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	cluster, err = kubetest.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(cluster.Stop)
	kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(kubeconfig, cluster.Env.KubeConfig, 0o600)).To(Succeed())
	// Namespaced objects only dry-run in a namespace that exists. Pod
	// Security admission checks Deployments' pod templates in "warn" mode
	// only (enforce applies to pods), so the namespace warns at the level
	// config/ enforces, and dryRun fails on any warning.
	Expect(cluster.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cast-system", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}})).To(Succeed())
	installThirdPartyCRDs(ctx, cluster, 2*time.Minute)
})
