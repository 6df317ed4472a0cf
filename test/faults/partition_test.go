package faults

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
)

// A partition is not an outage: nothing is refused or reset, packets just
// stop. The streamer's watch then looks healthy while it hears nothing,
// and its TokenReviews and SubjectAccessReviews hang instead of failing.
var _ = Describe("Network partition between the streamer and kube-apiserver", Label("streamer", "apiserver", LabelLong), func() {
	It("is noticed by /readyz, refuses nobody for good, and clients catch up once it heals", func(ctx SpecContext) {
		const clients, casts, partition = 50, 20, 15 * time.Second
		ns := newNamespace("partition")
		token := viewerToken(ctx, ns)
		apiURL, err := url.Parse(testEnv.Config.Host)
		Expect(err).NotTo(HaveOccurred())
		link, err := NewProxy(apiURL.Host)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(link.Close)
		addr := freeAddr()
		// client-go notices a silent HTTP/2 connection by pinging it after
		// 30 s of quiet and giving up 15 s later; shortened here so the
		// partition outlives the connection, as a long one would.
		p, err := StartStreamer(StreamerConfig{Binary: binary, Kubeconfig: kubeconfigVia(link.Addr()), Addr: addr,
			LogPath: logPath("streamer"),
			Args:    append(append([]string(nil), streamerFlags...), "--max-stream-duration", "4s"),
			Env:     []string{"HTTP2_READ_IDLE_TIMEOUT_SECONDS=3", "HTTP2_PING_TIMEOUT_SECONDS=2"}})
		Expect(err).NotTo(HaveOccurred())
		stopOnCleanup(p)
		keys, ws := runningFollowed(ctx, "http://"+addr, token, ns, clients, casts)

		By("cutting the streamer off from the kube-apiserver while every Cast finishes")
		link.Partition()
		cut := time.Now()
		drive(ctx, keys, 0, casts, true) // through the test's own, direct link
		readyz := poll("http://"+addr+"/readyz", cut, partition, 500*time.Millisecond)
		figure("streamer /readyz during the partition (every 500 ms)", fmt.Sprint(codes(readyz, cut)))
		// The check runs every 2 s and times out after 2 s: by 5 s in, one
		// has certainly failed.
		late := codes(readyz, cut.Add(5*time.Second))
		Expect(late).NotTo(BeEmpty())
		Expect(late).To(HaveEach(http.StatusServiceUnavailable), "/readyz must fail while the kube-apiserver is unreachable")

		By("healing the partition")
		link.Heal()
		healed := time.Now()
		Eventually(converged(ws, finalStates(ctx, ns))).WithTimeout(2 * time.Minute).Should(Succeed())
		figure("all clients hold all final states, after the partition healed", time.Since(healed).Round(10*time.Millisecond).String())
		Eventually(func() int { return statusOf("http://" + addr + "/readyz") }).Should(Equal(http.StatusOK))
		figure("streamer auth decisions", authDecisions(p))
	})
})

// kubeconfigVia writes a copy of the suite's kubeconfig that reaches the
// kube-apiserver through addr (same certificates: they name 127.0.0.1).
func kubeconfigVia(addr string) string {
	GinkgoHelper()
	cfg, err := clientcmd.Load(testEnv.KubeConfig)
	Expect(err).NotTo(HaveOccurred())
	for _, c := range cfg.Clusters {
		c.Server = "https://" + addr
	}
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
	Expect(os.Chmod(path, 0o600)).To(Succeed())
	return path
}

var _ = Describe("Network partition between clients and the streamer", Label("streamer"), func() {
	It("clients notice the silence by the missing heartbeats, come back when it heals, and the streamer keeps no stream of the dead connections", func(ctx SpecContext) {
		const clients, casts, partition = 50, 20, 20 * time.Second
		ns := newNamespace("client-partition")
		token := viewerToken(ctx, ns)
		addr := freeAddr()
		str := startStreamer(addr)
		link, err := NewProxy(addr)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(link.Close)
		// The clients give up on a connection after 5 s without a
		// heartbeat (the streamer sends one every second).
		keys, ws := runningFollowed(ctx, "http://"+link.Addr(), token, ns, clients, casts)
		Expect(openStreams(str)).To(BeNumerically("==", clients))

		By("cutting the clients off while every Cast finishes")
		before := link.Accepted()
		link.Partition()
		drive(ctx, keys, 0, casts, true)
		cut := time.Now()
		Eventually(func() int { return link.Accepted() - before }).WithTimeout(partition).
			Should(BeNumerically(">=", clients), "every client must give up its silent connection and try again")
		figure("every client gave up its silent connection and tried again, after", time.Since(cut).Round(10*time.Millisecond).String())

		By("healing the partition")
		link.Heal()
		healed := time.Now()
		Eventually(converged(ws, finalStates(ctx, ns))).WithTimeout(time.Minute).Should(Succeed())
		figure("all clients hold all final states, after the partition healed", time.Since(healed).Round(10*time.Millisecond).String())
		// The connections the clients gave up on reach the streamer as
		// closed once the partition heals; one stream per client is left.
		Eventually(func() float64 { return openStreams(str) }).Should(BeNumerically("==", clients))
	})
})
