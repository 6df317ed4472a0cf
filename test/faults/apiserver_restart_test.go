package faults

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// The kube-apiserver cannot be restarted through envtest (its Stop throws
// the certificates away), so the spec finds the process in /proc, stops it,
// and starts the same command line again as the suite's own child: same
// port, certificates, service-account keys and etcd, so every token and
// kubeconfig stays valid. AfterSuite stops that child before envtest
// stops etcd.
var _ = Describe("kube-apiserver restarted", Label("streamer", "apiserver", LabelLong), func() {
	It("on the same etcd: the streamer's informer recovers and no client misses a final state", func(ctx SpecContext) {
		const clients, casts, outage = 50, 20, 8 * time.Second
		ns := newNamespace("apiserver-restart")
		token := viewerToken(ctx, ns)
		addr := freeAddr()
		// Streams end every 3 s, so clients also have to come back in
		// (TokenReview, SubjectAccessReview) during and after the outage.
		str := startStreamer(addr, "--max-stream-duration", "3s")
		keys, ws := runningFollowed(ctx, "http://"+addr, token, ns, clients, casts)
		metricsBefore := authDecisions(str)

		By("stopping the kube-apiserver")
		api, how := stopAPIServer()
		stopped := time.Now()
		figure("kube-apiserver stopped with", how)

		var readyz []int
		for time.Since(stopped) < outage {
			readyz = append(readyz, statusOf("http://"+addr+"/readyz"))
			time.Sleep(250 * time.Millisecond)
		}
		figure("streamer /readyz while the kube-apiserver was down (every 250 ms)", fmt.Sprint(readyz))
		// The streamer checks the kube-apiserver at most every 2 s.
		Expect(readyz[len(readyz)-8:]).To(HaveEach(http.StatusServiceUnavailable), "/readyz must fail while the kube-apiserver is down")

		By("starting the same kube-apiserver again")
		startAPIServer(api)
		Eventually(func() error {
			return k8s.List(ctx, &castv1alpha1.CastList{}, client.InNamespace(ns))
		}).WithTimeout(2 * time.Minute).Should(Succeed())
		back := time.Now()
		figure("kube-apiserver down for", back.Sub(stopped).Round(100*time.Millisecond).String())

		drive(ctx, keys, 0, casts, true)
		Eventually(converged(ws, finalStates(ctx, ns))).WithTimeout(2 * time.Minute).Should(Succeed())
		figure("all clients hold all final states, after the kube-apiserver was back", time.Since(back).Round(10*time.Millisecond).String())
		Expect(statusOf("http://" + addr + "/readyz")).To(Equal(http.StatusOK))
		figure("streamer auth decisions across the outage (before → after)", metricsBefore+" → "+authDecisions(str))
	})

	It("and clients connecting while it loads RBAC are not refused for good", func(ctx SpecContext) {
		// Right after it starts listening, kube-apiserver answers
		// SubjectAccessReviews with allowed=false for a few milliseconds,
		// until its RBAC informers have synced. A stream opened then must
		// not be refused with a 403, which ends a Go client's subscription
		// for good (ErrForbidden) and makes `cast-operator watch` exit 3.
		const scopes = 8
		home := newNamespace("warmup")
		token := viewerToken(ctx, home)
		namespaces := []string{home}
		for i := 1; i < scopes; i++ {
			ns := newNamespace("warmup")
			Expect(kubetest.Allow(ctx, kube, kubetest.Grant{Namespace: ns, ServiceAccount: client.ObjectKey{Namespace: home, Name: "viewer"}})).To(Succeed())
			namespaces = append(namespaces, ns)
		}
		var keys []client.ObjectKey
		for _, ns := range namespaces {
			keys = append(keys, createPendingCasts(ctx, ns, 1)...)
		}
		addr := freeAddr()
		startStreamer(addr)
		// One stream leaves the token accepted in the streamer's cache
		// (10 s), so the new streams below go straight to access review.
		first := watchers(ctx, "http://"+addr, token, home, 1)
		Eventually(converged(first, finalStates(ctx, home))).Should(Succeed())

		api := stopAPIServerNow()
		startAPIServer(api)
		host := net.JoinHostPort(api.Flag("bind-address"), api.Flag("secure-port"))
		Eventually(func() error {
			c, err := net.DialTimeout("tcp", host, 100*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		}).WithTimeout(time.Minute).WithPolling(time.Millisecond).Should(Succeed())
		var ws []*Watcher
		for _, ns := range namespaces[1:] {
			ws = append(ws, watchers(ctx, "http://"+addr, token, ns, 1)...)
			time.Sleep(3 * time.Millisecond)
		}

		Eventually(func() error {
			return k8s.List(ctx, &castv1alpha1.CastList{}, client.InNamespace(home))
		}).WithTimeout(time.Minute).Should(Succeed())
		drive(ctx, keys, 0, len(keys), true)
		for i, w := range ws {
			ns := namespaces[i+1]
			Eventually(converged([]*Watcher{w}, finalStates(ctx, ns))).WithTimeout(time.Minute).Should(Succeed(), "the stream of %s", ns)
		}
	})
})

// stopAPIServer stops the envtest kube-apiserver (or the one a previous
// spec restarted): SIGTERM, then SIGKILL after 3 s, since a graceful stop
// waits for open watches such as the streamer's. It returns what it takes
// to start the same server again.
func stopAPIServer() (FoundProcess, string) {
	GinkgoHelper()
	api, err := FindAPIServer(testEnv.ControlPlane.Etcd.URL.String())
	Expect(err).NotTo(HaveOccurred())
	Expect(syscall.Kill(api.Pid, syscall.SIGTERM)).To(Succeed())
	how := "SIGTERM"
	for deadline := time.Now().Add(3 * time.Second); Alive(api.Pid) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if Alive(api.Pid) {
		how = "SIGTERM, then SIGKILL after 3 s"
		Expect(syscall.Kill(api.Pid, syscall.SIGKILL)).To(Succeed())
	}
	if apiServer != nil && apiServer.Pid() == api.Pid {
		apiServer.Kill() // ours: reap it
	}
	Eventually(func() bool { return Alive(api.Pid) }).Should(BeFalse())
	restartOnCleanup(api)
	return api, how
}

// stopAPIServerNow kills the kube-apiserver at once (a crash).
func stopAPIServerNow() FoundProcess {
	GinkgoHelper()
	api, err := FindAPIServer(testEnv.ControlPlane.Etcd.URL.String())
	Expect(err).NotTo(HaveOccurred())
	Expect(syscall.Kill(api.Pid, syscall.SIGKILL)).To(Succeed())
	if apiServer != nil && apiServer.Pid() == api.Pid {
		apiServer.Kill()
	}
	Eventually(func() bool { return Alive(api.Pid) }).Should(BeFalse())
	restartOnCleanup(api)
	return api
}

// startAPIServer runs the same kube-apiserver again as the suite's child.
func startAPIServer(api FoundProcess) {
	GinkgoHelper()
	// The killed process's port can take a moment to be free again.
	host := net.JoinHostPort(api.Flag("bind-address"), api.Flag("secure-port"))
	Eventually(func() error {
		ln, err := net.Listen("tcp", host)
		if err == nil {
			ln.Close()
		}
		return err
	}).WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
	var err error
	apiServer, err = Start("kube-apiserver", api.Args[0], api.Args[1:], nil, logPath("kube-apiserver"))
	Expect(err).NotTo(HaveOccurred())
}

func statusOf(url string) int {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// authDecisions summarises cast_streamer_auth_decisions_total of the
// streamer p.
func authDecisions(p *Proc) string {
	m, err := Scrape(p.MetricsURL)
	if err != nil {
		return err.Error()
	}
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, "cast_streamer_auth_decisions_total{") {
			out = append(out, fmt.Sprintf("%s=%.0f", strings.TrimPrefix(k, "cast_streamer_auth_decisions_total"), v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// restartOnCleanup starts the kube-apiserver again when the spec ends with
// it still down, so a spec failing mid-outage does not fail every later one.
func restartOnCleanup(api FoundProcess) {
	DeferCleanup(func() {
		if _, err := FindAPIServer(testEnv.ControlPlane.Etcd.URL.String()); err != nil {
			startAPIServer(api)
		}
	})
}
