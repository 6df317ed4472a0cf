package streamer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// The streamer runs against a real kube-apiserver: real ServiceAccount
// tokens from TokenRequest, real RBAC objects, real TokenReview and
// SubjectAccessReview, and clients over loopback HTTP.
var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8s       client.Client
	kube      kubernetes.Interface
	castCache cache.Cache
	stopCache context.CancelFunc
	logs      = &syncBuffer{}
)

// syncBuffer captures every log line so tests can prove tokens never
// appear in them.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStreamer(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(15 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Streamer Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(&teeWriter{logs}), zap.UseDevMode(true)))
	var err error
	testEnv, err = localcluster.New("")
	Expect(err).NotTo(HaveOccurred())
	cfg, err = testEnv.Start()
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
	Expect(castCache.WaitForCacheSync(ctx)).To(BeTrue())
})

var _ = AfterSuite(func() {
	// The cache's watch must end first: kube-apiserver waits for open
	// watches before it stops.
	if stopCache != nil {
		stopCache()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

type teeWriter struct{ b *syncBuffer }

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = GinkgoWriter.Write(p)
	return t.b.Write(p)
}

// startStreamer runs a streamer with opts (short intervals by default) on
// a loopback port until the spec ends, and returns its base URL once ready.
func startStreamer(opts Options) (string, *Server) {
	GinkgoHelper()
	url, srv, _ := startStoppableStreamer(opts)
	return url, srv
}

// startStoppableStreamer is startStreamer that also returns a func which
// stops the server (as the manager does at shutdown) and waits for it.
func startStoppableStreamer(opts Options) (string, *Server, func()) {
	GinkgoHelper()
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 200 * time.Millisecond
	}
	if opts.Retry == 0 {
		opts.Retry = 500 * time.Millisecond
	}
	srv, err := New(opts, castCache, kube)
	Expect(err).NotTo(HaveOccurred())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(logf.IntoContext(context.Background(), logf.Log))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			Eventually(done).Should(Receive(BeNil()), "the server must stop cleanly with its context")
		})
	}
	DeferCleanup(stop)
	url := "http://" + ln.Addr().String()
	Eventually(func() int { return getStatus(url+"/readyz", "") }).Should(Equal(http.StatusOK))
	return url, srv, stop
}

func getStatus(url, token string) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

var nsCounter int

// newNamespace creates a namespace of its own for a spec.
func newNamespace() string {
	GinkgoHelper()
	nsCounter++
	ns := fmt.Sprintf("stream-%d-%d", GinkgoParallelProcess(), nsCounter)
	Expect(k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	return ns
}

// serviceAccountToken creates a ServiceAccount and returns a real token for
// it from the TokenRequest API.
func serviceAccountToken(ns, name string, audiences ...string) string {
	GinkgoHelper()
	ctx := context.Background()
	_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(3600)), Audiences: audiences},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// allow binds the ServiceAccount ns/sa to a Role in roleNS (a ClusterRole
// when roleNS is "") with verbs on casts, optionally limited by name.
func allow(ns, sa, roleNS string, verbs []string, resourceNames ...string) {
	GinkgoHelper()
	ctx := context.Background()
	rule := rbacv1.PolicyRule{APIGroups: []string{"spell.dev"}, Resources: []string{"casts"}, Verbs: verbs, ResourceNames: resourceNames}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}
	name := fmt.Sprintf("%s-%s-%d", ns, sa, time.Now().UnixNano())
	if roleNS == "" {
		Expect(k8s.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{rule}})).To(Succeed())
		Expect(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}, Subjects: []rbacv1.Subject{subject}})).To(Succeed())
		return
	}
	Expect(k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: roleNS}, Rules: []rbacv1.PolicyRule{rule}})).To(Succeed())
	Expect(k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: roleNS},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: []rbacv1.Subject{subject}})).To(Succeed())
}

func ptrTo[T any](v T) *T { return &v }

func deleteNow() metav1.DeleteOptions {
	return metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))}
}
