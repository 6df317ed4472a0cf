package streamer

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/sse"
)

// HTTP/1.x streams are served off their hijacked connection; HTTP/2
// streams (TLS) stay in the handler. Both must behave the same.
var _ = Describe("Streams over HTTP/2", func() {
	It("deliver changes and end on client disconnect and on shutdown, as over HTTP/1.1", func() {
		cert, key, pool := selfSignedCert()
		srv, err := New(Options{TLSCertFile: cert, TLSKeyFile: key, HeartbeatInterval: time.Hour}, castCache, kube)
		Expect(err).NotTo(HaveOccurred())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		ctx, stop := context.WithCancel(logf.IntoContext(context.Background(), logf.Log))
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx, ln) }()
		DeferCleanup(stop)
		base := "https://" + ln.Addr().String()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
		Eventually(func() int {
			resp, err := hc.Get(base + "/readyz")
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}).Should(Equal(http.StatusOK))

		ns := newNamespace()
		token := serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"list", "watch"})
		cast := createCast(ns, "over-h2", nil)
		open := func() (*http.Response, *sse.Parser, context.CancelFunc) {
			rctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(rctx, http.MethodGet, base+"/api/v1/namespaces/"+ns+"/casts/events", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			Expect(resp.ProtoMajor).To(Equal(2))
			return resp, sse.NewParser(bufio.NewReader(resp.Body)), cancel
		}
		nextOf := func(p *sse.Parser, kind string) sse.Message {
			for {
				m, err := p.Next()
				Expect(err).NotTo(HaveOccurred())
				if m.Event == kind {
					return m
				}
			}
		}

		disconnects := closedTotal(reasonDisconnect)
		resp, p, cancel := open()
		nextOf(p, "synced")
		setStatus(cast, func(st *castv1alpha1.CastStatus) { st.Phase, st.Message = castv1alpha1.PhaseRunning, "over h2" })
		Expect(snapshotOf(nextOf(p, "status")).Message).To(Equal("over h2"))
		cancel()
		resp.Body.Close()
		Eventually(func() float64 { return closedTotal(reasonDisconnect) }).
			Should(BeNumerically(">", disconnects))

		shutdowns := closedTotal(reasonShutdown)
		resp, p, cancel = open()
		defer cancel()
		defer resp.Body.Close()
		nextOf(p, "synced")
		stop()
		Eventually(served, 10*time.Second).Should(Receive(BeNil()))
		Expect(closedTotal(reasonShutdown)).To(BeNumerically(">", shutdowns))
	})
})

// closedTotal reads cast_streamer_streams_closed_total for a reason.
func closedTotal(reason string) float64 {
	var m dto.Metric
	Expect(streamsClosed.WithLabelValues(reason).Write(&m)).To(Succeed())
	return m.GetCounter().GetValue()
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and
// returns their paths and a pool that trusts the certificate.
func selfSignedCert() (certPath, keyPath string, pool *x509.CertPool) {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "streamer-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	Expect(os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)).To(Succeed())
	Expect(os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)).To(Succeed())
	parsed, err := x509.ParseCertificate(der)
	Expect(err).NotTo(HaveOccurred())
	pool = x509.NewCertPool()
	pool.AddCert(parsed)
	return certPath, keyPath, pool
}
