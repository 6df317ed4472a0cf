package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// The browser test drives Debian's chromium against a real streamer on a
// real kube-apiserver: real ServiceAccount tokens, real RBAC.
const chromiumPath = "/usr/bin/chromium"

var (
	testEnv   *envtest.Environment
	k8s       client.Client
	kube      kubernetes.Interface
	castCache cache.Cache
	stopCache context.CancelFunc
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
	var err error
	testEnv, err = localcluster.New("")
	Expect(err).NotTo(HaveOccurred())
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: localcluster.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	kube, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	castCache, err = cache.New(cfg, cache.Options{Scheme: localcluster.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	var ctx context.Context
	ctx, stopCache = context.WithCancel(context.Background())
	go func() { _ = castCache.Start(ctx) }()
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	Expect(castCache.WaitForCacheSync(syncCtx)).To(BeTrue())
})

var _ = AfterSuite(func() {
	// The informer's watch must end first: kube-apiserver waits for open
	// watches before it stops.
	if stopCache != nil {
		stopCache()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
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

// serviceAccountToken creates ServiceAccount ns/name and returns a real token
// for it from the TokenRequest API.
func serviceAccountToken(ns, name string) string {
	GinkgoHelper()
	ctx := context.Background()
	_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	expiry := int64(3600)
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// allowReading lets ServiceAccount ns/sa get, list and watch Casts in ns.
func allowReading(ns, sa string) {
	GinkgoHelper()
	ctx := context.Background()
	name := sa + "-reads-casts"
	Expect(k8s.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{castv1alpha1.GroupVersion.Group}, Resources: []string{"casts"},
			Verbs: []string{"get", "list", "watch"}}},
	})).To(Succeed())
	Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	})).To(Succeed())
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

// setStatus writes status through the subresource, retrying on conflicts.
func setStatus(c *castv1alpha1.Cast, mutate func(*castv1alpha1.CastStatus)) {
	GinkgoHelper()
	Eventually(func() error {
		cur := &castv1alpha1.Cast{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(c), cur); err != nil {
			return err
		}
		mutate(&cur.Status)
		return k8s.Status().Update(context.Background(), cur)
	}).Should(Succeed())
}
