package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/spell-platform/cast-operator/test/kubetest"
)

// LabelLong marks specs that take a minute or more, or that stop the
// shared kube-apiserver: they run when FAULTS=all (make test-faults).
const LabelLong = "long"

// The control plane is envtest's, as in every other suite; the streamer
// and controller are subprocesses of the real binary, so killing them is
// the real thing. Assertions read through k8s, a direct client.
var (
	cluster    *kubetest.Cluster
	testEnv    *envtest.Environment
	k8s        client.Client
	kube       kubernetes.Interface
	binary     string
	kubeconfig string
	// workDir holds the subprocesses' logs; kept when the suite fails
	// or FAULTS_KEEP_LOGS is set.
	workDir string
	// apiServer is the kube-apiserver this suite restarted as its own
	// child, if a spec did; it must stop before envtest stops etcd.
	apiServer *Proc
	// etcdServer is the etcd a spec restarted as this suite's child; it
	// must stop after envtest stops the kube-apiserver.
	etcdServer *Proc
)

func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	// The spec set is chosen here, not with Skip: `go test ./...` runs the
	// fast specs, FAULTS=all every spec. An explicit --ginkgo.label-filter
	// wins over both.
	if suiteConfig.LabelFilter == "" && os.Getenv("FAULTS") != "all" {
		suiteConfig.LabelFilter = "!" + LabelLong
	}
	RunSpecs(t, "Faults Suite", suiteConfig, reporterConfig)
}

var _ = BeforeSuite(func(ctx SpecContext) {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	workDir, err = os.MkdirTemp("", "cast-faults-")
	Expect(err).NotTo(HaveOccurred())

	built := make(chan error, 1)
	go func() {
		var err error
		binary, err = BuildBinary(ctx, workDir)
		built <- err
	}()

	cluster, err = kubetest.Start()
	Expect(err).NotTo(HaveOccurred())
	testEnv, k8s, kube = cluster.Env, cluster.Client, cluster.Kube
	kubeconfig = filepath.Join(workDir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, testEnv.KubeConfig, 0o600)).To(Succeed())
	Expect(<-built).To(Succeed())
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	if apiServer != nil {
		// envtest's own handle is for the process a spec killed; this one
		// is ours to stop, before etcd goes.
		if err := apiServer.Stop(30 * time.Second); err != nil && !isSignalExit(err) {
			GinkgoWriter.Printf("restarted kube-apiserver: %v\n", err)
		}
	}
	stopped := cluster.Stop()
	if etcdServer != nil {
		if err := etcdServer.Stop(30 * time.Second); err != nil && !isSignalExit(err) {
			GinkgoWriter.Printf("restarted etcd: %v\n", err)
		}
	}
	Expect(stopped).To(Succeed())
})

var _ = ReportAfterSuite("subprocess logs", func(r Report) {
	if workDir == "" {
		return
	}
	if r.SuiteSucceeded && os.Getenv("FAULTS_KEEP_LOGS") == "" {
		_ = os.RemoveAll(workDir)
		return
	}
	fmt.Fprintf(os.Stderr, "faults: subprocess logs kept in %s\n", workDir)
})

// logPath is where a spec's subprocess writes its output.
func logPath(name string) string {
	return filepath.Join(workDir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
}

// stopOnCleanup stops p when the spec ends, however it ends.
func stopOnCleanup(p *Proc) {
	DeferCleanup(func() {
		if err := p.Stop(20 * time.Second); err != nil && !isSignalExit(err) {
			GinkgoWriter.Printf("%s: %v\n", p.Name, err)
		}
	})
}

// isSignalExit: a process we killed reports "signal: killed"; that is not
// a failure of the process.
func isSignalExit(err error) bool {
	type exitStatus interface{ Sys() any }
	if es, ok := err.(exitStatus); ok {
		if ws, ok := es.Sys().(syscall.WaitStatus); ok {
			return ws.Signaled()
		}
	}
	return false
}
