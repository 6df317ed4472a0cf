package v1alpha1_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// These specs run against a real kube-apiserver with the generated CRD, so
// they prove what users get from `kubectl apply`, not what Go code checks.
var (
	testEnv *envtest.Environment
	cfg     *rest.Config
	k8s     client.Client
)

func TestCastAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Cast API Suite")
}

var _ = BeforeSuite(func() {
	var err error
	testEnv, err = localcluster.New("")
	Expect(err).NotTo(HaveOccurred())
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: localcluster.Scheme()})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
