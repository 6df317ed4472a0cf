package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/kubetest"
	"github.com/spell-platform/cast-operator/test/ssotest"
)

// The browser test drives Debian's chromium against a real streamer on a
// real kube-apiserver: real ServiceAccount tokens, real RBAC.
const chromiumPath = "/usr/bin/chromium"

var (
	cluster   *kubetest.Cluster
	k8s       client.Client
	kube      kubernetes.Interface
	castCache cache.Cache // what the streamers under test read Casts through
	// auditLog is kube-apiserver's audit log of requests on Casts.
	auditLog string
	// idp is the OpenID Connect provider kube-apiserver trusts, for the
	// single sign-on specs.
	idp *ssotest.Provider
)

// The client the dashboard signs in as at idp, and the prefix
// kube-apiserver puts before the "email" claim to make user names.
const (
	ssoClientID   = "cast-dashboard"
	ssoUserPrefix = "oidc:"
)

func TestDashboard(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(15 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Dashboard Suite")
}

var _ = BeforeSuite(func() {
	// No skipping: a missing browser is a failure with the way to fix it.
	if _, err := os.Stat(chromiumPath); err != nil {
		Fail(fmt.Sprintf("the dashboard's browser test needs Debian's chromium at %s (%v): run `make browser`", chromiumPath, err))
	}

	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	dir, err := os.MkdirTemp("", "dashboard-audit-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	auditLog = filepath.Join(dir, "audit.log")
	// The provider serves before kube-apiserver starts, which fetches its
	// discovery document and keys.
	idp, err = ssotest.Start(ssotest.Options{ClientID: ssoClientID})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(idp.Close)
	cluster, err = kubetest.Start(kubetest.WithCache(), kubetest.WithAuditLog(auditLog), kubetest.WithJWTIssuers(kubetest.JWTIssuer{
		URL: idp.URL, CertificateAuthority: idp.CAPEM, Audience: ssoClientID, UsernamePrefix: ssoUserPrefix}))
	Expect(err).NotTo(HaveOccurred())
	k8s, kube, castCache = cluster.Client, cluster.Kube, cluster.Cache
})

var _ = AfterSuite(func() {
	// Stop ends the informer's watch before the control plane, which would
	// otherwise wait for it; nil-safe if BeforeSuite failed early.
	Expect(cluster.Stop()).To(Succeed())
})

var nsCounter int

// newNamespace creates a namespace for one spec, named name if given (each
// parallel process has a control plane of its own, so names cannot clash).
func newNamespace(name ...string) string {
	GinkgoHelper()
	nsCounter++
	ns := fmt.Sprintf("dash-%d-%d", GinkgoParallelProcess(), nsCounter)
	if len(name) > 0 {
		ns = name[0]
	}
	Expect(k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	return ns
}

// serviceAccountToken creates ServiceAccount ns/name unless it exists and
// returns a real one-hour token for it from the TokenRequest API.
func serviceAccountToken(ns, name string) string {
	GinkgoHelper()
	token, err := kubetest.Token(context.Background(), kube, ns, name, time.Hour)
	Expect(err).NotTo(HaveOccurred())
	return token
}

// allowReading lets ServiceAccount ns/sa get, list and watch Casts in ns.
// It is separate from serviceAccountToken so a spec can have an outsider:
// a valid token that may read nothing.
func allowReading(ns, sa string) {
	GinkgoHelper()
	Expect(kubetest.Allow(context.Background(), kube, kubetest.Grant{Namespace: ns,
		ServiceAccount: client.ObjectKey{Namespace: ns, Name: sa}, Verbs: kubetest.ReadVerbs})).To(Succeed())
}

// createCast creates a Cast and gives it a status, as the controller would.
func createCast(ns, name, repo, workflow string, mutate func(*castv1alpha1.CastStatus)) *castv1alpha1.Cast {
	GinkgoHelper()
	c := &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"team": "platform"}},
		Spec:       castv1alpha1.CastSpec{Repository: repo, Workflow: workflow},
	}
	Expect(k8s.Create(context.Background(), c)).To(Succeed())
	setStatus(c, func(st *castv1alpha1.CastStatus) {
		st.Phase = castv1alpha1.PhasePending
		if mutate != nil {
			mutate(st)
		}
	})
	return c
}

// setStatus writes status through the subresource, retrying on conflicts
// and, until the suite's Eventually timeout, on any other error.
func setStatus(c *castv1alpha1.Cast, mutate func(*castv1alpha1.CastStatus)) {
	GinkgoHelper()
	Eventually(func() error {
		_, err := kubetest.SetStatus(context.Background(), k8s, client.ObjectKeyFromObject(c), mutate)
		return err
	}).Should(Succeed())
}
