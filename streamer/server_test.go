package streamer

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// serve runs a Server on a loopback port with its own cache (started or
// not) until the spec ends, and returns its base URL.
func serve(c cache.Cache) string {
	GinkgoHelper()
	srv, err := New(Options{}, c, kube)
	Expect(err).NotTo(HaveOccurred())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	DeferCleanup(func() {
		cancel()
		Eventually(done).Should(Receive(BeNil()), "the server must stop cleanly with its context")
	})
	return "http://" + ln.Addr().String()
}

func fetchText(url string) (int, string) {
	GinkgoHelper()
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

var _ = Describe("Streamer server", func() {
	newCache := func() cache.Cache {
		c, err := cache.New(cfg, cache.Options{Scheme: localcluster.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		return c
	}

	It("is live at once and ready only once the Cast informer has synced", func() {
		c := newCache()
		url := serve(c)

		code, body := fetchText(url + "/healthz")
		Expect(code).To(Equal(http.StatusOK))
		Expect(body).To(Equal("ok\n"))

		// The cache has not started: the informer cannot have synced.
		code, body = fetchText(url + "/readyz")
		Expect(code).To(Equal(http.StatusServiceUnavailable))
		Expect(body).To(ContainSubstring("cast informer not synced"))

		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		go func() { _ = c.Start(ctx) }()
		Eventually(func() int { code, _ := fetchText(url + "/readyz"); return code }).
			WithTimeout(30 * time.Second).Should(Equal(http.StatusOK))

		// Metrics are the manager's metrics server's (behind authentication
		// and RBAC), never on the public port.
		code, _ = fetchText(url + "/metrics")
		Expect(code).To(Equal(http.StatusNotFound))
	})

	It("answers unknown paths and wrong methods with 404 and 405", func() {
		url := serve(newCache())
		code, _ := fetchText(url + "/nope")
		Expect(code).To(Equal(http.StatusNotFound))
		resp, err := http.Post(url+"/healthz", "text/plain", nil)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed))
	})

	It("reports a busy port instead of serving nothing", func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer ln.Close()
		srv, err := New(Options{BindAddress: ln.Addr().String()}, newCache(), kube)
		Expect(err).NotTo(HaveOccurred())
		err = srv.Start(context.Background())
		Expect(err).To(MatchError(ContainSubstring("streamer listening on " + ln.Addr().String())))
	})
})
