package faults

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

var _ = Describe("Streamer TLS rotation", Label("streamer", "tls"), func() {
	It("serves a renewed certificate to new connections without a restart, keeps open streams, and rides out a bad pair", func(ctx SpecContext) {
		ca := newTestCA()
		vol := &secretVolume{dir: GinkgoT().TempDir()}
		vol.update(ca.issue("streamer-a"))
		addr := freeAddr()
		base := "https://" + addr
		metricsArgs, metricsURL := metricsEndpoint("streamer")
		args := append([]string{"streamer", "--kubeconfig", kubeconfig, "--bind-address", addr,
			"--tls-cert-file", vol.path("tls.crt"), "--tls-key-file", vol.path("tls.key")}, streamerFlags...)
		p, err := Start("streamer", binary, append(args, metricsArgs...), nil, logPath("streamer"))
		Expect(err).NotTo(HaveOccurred())
		stopOnCleanup(p)
		pid := p.Pid()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.clientTLS(), ForceAttemptHTTP2: true}}
		DeferCleanup(hc.CloseIdleConnections)
		Eventually(func() (int, error) { return statusWith(hc, base+"/readyz") }).Should(Equal(http.StatusOK))

		// served is the name on the certificate a new TLS connection gets.
		served := func() (string, error) { return servedCertName(ca.clientTLS(), addr) }
		Expect(served()).To(Equal("streamer-a"))

		By("an SSE stream over HTTP/2, opened on certificate A")
		ns := newNamespace("tls-rotation")
		token := viewerToken(ctx, ns)
		cast := kubetest.NewCast(ns, "rotating", 0)
		Expect(k8s.Create(ctx, cast)).To(Succeed())
		events, proto := openStream(ctx, hc, base+"/api/v1/namespaces/"+ns+"/casts/events", token)
		Expect(proto).To(Equal(2), "the stream is served over HTTP/2")
		Eventually(events).Should(Receive(HaveField("Event", "synced")))
		say := func(msg string) {
			GinkgoHelper()
			_, err := kubetest.SetStatus(ctx, k8s, client.ObjectKeyFromObject(cast), func(st *castv1alpha1.CastStatus) {
				st.Phase, st.Message = castv1alpha1.PhaseRunning, msg
			})
			Expect(err).NotTo(HaveOccurred())
			// A message change alone is a progress event.
			Eventually(events).Should(Receive(SatisfyAll(HaveField("Event", BeElementOf("status", "progress")),
				HaveField("Data", ContainSubstring(`"message":"`+msg+`"`)))), "the stream opened on certificate A delivers %q", msg)
		}
		say("before rotation")

		By("kubelet swapping the Secret volume to certificate B")
		rotated := time.Now()
		vol.update(ca.issue("streamer-b"))
		Eventually(served).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal("streamer-b"))
		figure("new connections get the renewed certificate after", time.Since(rotated).Round(time.Millisecond).String())
		Expect(p.Exited()).To(BeFalse())
		Expect(p.Pid()).To(Equal(pid))
		say("after rotation")

		By("a pair that does not load: the last good certificate keeps serving")
		errorsBefore := readErrors(metricsURL)
		vol.update(map[string][]byte{
			"tls.crt": []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"),
			"tls.key": []byte("half written"),
		})
		Eventually(func() float64 { return readErrors(metricsURL) }).Should(BeNumerically(">", errorsBefore))
		Consistently(served).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal("streamer-b"))
		Expect(statusWith(hc, base+"/readyz")).To(Equal(http.StatusOK))
		say("after a bad pair")

		By("the next good pair, certificate C, is picked up")
		rotated = time.Now()
		vol.update(ca.issue("streamer-c"))
		Eventually(served).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal("streamer-c"))
		figure("after the bad pair, new connections get the next good one after", time.Since(rotated).Round(time.Millisecond).String())
		say("after the second rotation")
		Expect(p.Exited()).To(BeFalse())
	})
})

// servedCertName opens a new TLS connection to addr (verifying the chain
// against cfg's roots) and returns the common name it was served.
func servedCertName(cfg *tls.Config, addr string) (string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// statusWith is url's status code through hc.
func statusWith(hc *http.Client, url string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// readErrors is certwatcher_read_certificate_errors_total: certificate
// and key pairs the process failed to load.
func readErrors(url string) float64 {
	GinkgoHelper()
	m, err := Scrape(url)
	Expect(err).NotTo(HaveOccurred())
	v, ok := m["certwatcher_read_certificate_errors_total"]
	Expect(ok).To(BeTrue(), "%s has no certwatcher_read_certificate_errors_total", url)
	return v
}

// openStream opens an SSE stream and sends its events to the returned
// channel until ctx or the spec ends; the channel closes when the stream
// does. proto is the HTTP major version it is served over.
func openStream(ctx context.Context, hc *http.Client, url, token string) (events <-chan sse.Message, proto int) {
	GinkgoHelper()
	sctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(resp.Body.Close)
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	ch := make(chan sse.Message, 64)
	go func() {
		defer close(ch)
		p := sse.NewParser(bufio.NewReader(resp.Body))
		for {
			m, err := p.Next()
			if err != nil {
				if sctx.Err() == nil {
					fmt.Fprintf(GinkgoWriter, "stream ended: %v\n", err)
				}
				return
			}
			select {
			case ch <- m:
			case <-sctx.Done():
				return
			}
		}
	}()
	return ch, resp.ProtoMajor
}
