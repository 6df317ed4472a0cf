package auth

import (
	"context"
	"net"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/spell-platform/cast-operator/test/kubetest"
)

var (
	cluster   *kubetest.Cluster
	cfg       *rest.Config
	clientset kubernetes.Interface
)

func TestAuth(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Streamer Auth Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	cluster, err = kubetest.Start()
	Expect(err).NotTo(HaveOccurred())
	cfg, clientset = cluster.Config, cluster.Kube
})

var _ = AfterSuite(func() {
	Expect(cluster.Stop()).To(Succeed()) // nil-safe if BeforeSuite failed early
})

// apiCalls reads cast_streamer_auth_api_calls_total for kind.
func apiCalls(kind string) float64 {
	return counterValue(apiCallsTotal.WithLabelValues(kind))
}

func decisions(stage, result string) float64 {
	return counterValue(decisionsTotal.WithLabelValues(stage, result))
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	ExpectWithOffset(2, c.Write(&m)).To(Succeed())
	return m.GetCounter().GetValue()
}

// newNamespace creates a namespace of its own for a spec, so RBAC objects
// of one spec never grant anything in another.
func newNamespace(ctx context.Context, prefix string) string {
	ns, err := clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns.Name
}

func newServiceAccount(ctx context.Context, ns, name string) *corev1.ServiceAccount {
	sa, err := clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}, metav1.CreateOptions{})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return sa
}

// requestToken asks the TokenRequest API for a real ServiceAccount token;
// no audiences means the API server's own. Unlike kubetest.Token it returns
// the expiry the API server chose, which specs compare the authenticated
// identity's against, and never creates the ServiceAccount: specs create
// it themselves.
func requestToken(ctx context.Context, ns, name string, expiry time.Duration, audiences ...string) (string, time.Time) {
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         audiences,
			ExpirationSeconds: ptr.To(int64(expiry / time.Second)),
		},
	}, metav1.CreateOptions{})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return tr.Status.Token, tr.Status.ExpirationTimestamp.Time
}

// waitForRBAC waits until the API server's RBAC authorizer (fed by its own
// informers) sees a new binding, asking it directly so the streamer's
// caches and counters are not involved.
func waitForRBAC(ctx context.Context, userName string, groups []string, verb, ns, name string) {
	EventuallyWithOffset(1, func(g Gomega) {
		sar, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   userName,
				Groups: groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: verb, Group: "spell.dev", Resource: "casts", Name: name,
				},
			},
		}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sar.Status.Allowed).To(BeTrue())
	}).WithTimeout(10 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// unreachableClient points at a loopback port nobody listens on: an API
// server outage as the streamer would see it.
func unreachableClient() kubernetes.Interface {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	addr := ln.Addr().String()
	ExpectWithOffset(1, ln.Close()).To(Succeed())
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: "http://" + addr, Timeout: 2 * time.Second})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return cs
}

// clientAs is a clientset that authenticates with token, for an identity
// that has none of the admin's rights.
func clientAs(token string) kubernetes.Interface {
	c := rest.AnonymousClientConfig(cfg)
	c.BearerToken = token
	cs, err := kubernetes.NewForConfig(c)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return cs
}
