package streamer

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/spell-platform/cast-operator/test/kubetest"
)

// The streamer runs against a real kube-apiserver: real ServiceAccount
// tokens from TokenRequest, real RBAC objects, real TokenReview and
// SubjectAccessReview, and clients over loopback HTTP.
var (
	cluster   *kubetest.Cluster
	cfg       *rest.Config
	k8s       client.Client
	kube      kubernetes.Interface
	castCache cache.Cache // the streamer reads Casts through it, as in production
	// logs captures every log line so tests can prove tokens never
	// appear in them.
	logs = &kubetest.Buffer{}
)

func TestStreamer(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(15 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Streamer Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, logs)), zap.UseDevMode(true)))
	var err error
	cluster, err = kubetest.Start(kubetest.WithCache())
	Expect(err).NotTo(HaveOccurred())
	cfg, k8s, kube, castCache = cluster.Config, cluster.Client, cluster.Kube, cluster.Cache
})

var _ = AfterSuite(func() {
	// Stop ends the cache's watch before the control plane, which would
	// otherwise wait for it; nil-safe if BeforeSuite failed early.
	Expect(cluster.Stop()).To(Succeed())
})

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

// serviceAccountToken creates ServiceAccount ns/name unless it exists and
// returns a real one-hour token for it from the TokenRequest API (specs
// that fake a clock rely on the hour).
func serviceAccountToken(ns, name string, audiences ...string) string {
	GinkgoHelper()
	token, err := kubetest.Token(context.Background(), kube, ns, name, time.Hour, audiences...)
	Expect(err).NotTo(HaveOccurred())
	return token
}

// allow binds the ServiceAccount ns/sa to a Role in roleNS (a ClusterRole
// when roleNS is "") with verbs on casts, optionally limited by name.
// Granting the same thing twice is a no-op: specs never revoke grants.
func allow(ns, sa, roleNS string, verbs []string, resourceNames ...string) {
	GinkgoHelper()
	Expect(kubetest.Allow(context.Background(), kube, kubetest.Grant{Namespace: roleNS,
		ServiceAccount: client.ObjectKey{Namespace: ns, Name: sa}, Verbs: verbs, ResourceNames: resourceNames})).To(Succeed())
}

func ptrTo[T any](v T) *T { return &v }

func deleteNow() metav1.DeleteOptions {
	return metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))}
}
