package faults

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// etcd is restarted like the kube-apiserver: found in /proc, killed, and
// its command line run again as the suite's own child on the same data
// directory and ports. The kube-apiserver stays up throughout and has to
// reconnect by itself, as it must when etcd fails over in production.
var _ = Describe("etcd killed", Label("streamer", "apiserver", LabelLong), func() {
	It("with SIGKILL and restarted on its data: the streamer's /readyz follows, and no client misses a final state", func(ctx SpecContext) {
		const clients, casts, outage = 50, 20, 10 * time.Second
		ns := newNamespace("etcd-restart")
		token := viewerToken(ctx, ns)
		addr := freeAddr()
		str := startStreamer(addr, "--max-stream-duration", "3s")
		keys, ws := runningFollowed(ctx, "http://"+addr, token, ns, clients, casts)

		By("SIGKILL etcd")
		etcd := killEtcd()
		killed := time.Now()
		readyz := poll("http://"+addr+"/readyz", killed, outage, 250*time.Millisecond)
		figure("streamer /readyz while etcd was down (every 250 ms)", fmt.Sprint(codes(readyz, killed)))
		// kube-apiserver's own etcd check took up to 4 s to fail in our
		// runs; the streamer asks it every 2 s.
		late := codes(readyz, killed.Add(7*time.Second))
		Expect(late).NotTo(BeEmpty())
		Expect(late).To(HaveEach(http.StatusServiceUnavailable), "/readyz must fail while the kube-apiserver has no storage")

		By("starting the same etcd again")
		startEtcd(etcd)
		Eventually(func() error {
			return k8s.List(ctx, &castv1alpha1.CastList{}, client.InNamespace(ns))
		}).WithTimeout(2 * time.Minute).Should(Succeed())
		back := time.Now()
		figure("etcd down, as the kube-apiserver saw it", back.Sub(killed).Round(100*time.Millisecond).String())

		drive(ctx, keys, 0, casts, true)
		Eventually(converged(ws, finalStates(ctx, ns))).WithTimeout(2 * time.Minute).Should(Succeed())
		figure("all clients hold all final states, after etcd was back", time.Since(back).Round(10*time.Millisecond).String())
		Eventually(func() int { return statusOf("http://" + addr + "/readyz") }).Should(Equal(http.StatusOK))
		figure("streamer auth decisions", authDecisions(str))
	})
})

// killEtcd kills the suite's etcd (envtest's, or the one a previous spec
// restarted) and returns what it takes to start it again.
func killEtcd() FoundProcess {
	GinkgoHelper()
	etcd, err := FindEtcd(testEnv.ControlPlane.Etcd.URL.String())
	Expect(err).NotTo(HaveOccurred())
	Expect(syscall.Kill(etcd.Pid, syscall.SIGKILL)).To(Succeed())
	if etcdServer != nil && etcdServer.Pid() == etcd.Pid {
		etcdServer.Kill() // ours: reap it
	}
	Eventually(func() bool { return Alive(etcd.Pid) }).Should(BeFalse())
	// A spec failing before it restarts etcd must not take every later
	// spec down with it.
	DeferCleanup(func() {
		if _, err := FindEtcd(testEnv.ControlPlane.Etcd.URL.String()); err != nil {
			startEtcd(etcd)
		}
	})
	return etcd
}

// startEtcd runs the same etcd again as the suite's child.
func startEtcd(etcd FoundProcess) {
	GinkgoHelper()
	client := testEnv.ControlPlane.Etcd.URL.Host
	Eventually(func() error {
		ln, err := net.Listen("tcp", client)
		if err == nil {
			ln.Close()
		}
		return err
	}).WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
	var err error
	etcdServer, err = Start("etcd", etcd.Args[0], etcd.Args[1:], nil, logPath("etcd"))
	Expect(err).NotTo(HaveOccurred())
}
