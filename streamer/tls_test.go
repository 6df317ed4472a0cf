package streamer

import (
	"context"
	"net"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Rotation itself is proven on the real process (test/faults,
// tls_rotation_test.go); a pair that does not load at start is refused
// here, since there is no last good certificate to fall back on.
var _ = Describe("Streamer TLS", func() {
	It("refuses to start with a certificate that does not load, naming the files, and frees its port", func() {
		goodCert, _, _ := selfSignedCert()
		bad := filepath.Join(GinkgoT().TempDir(), "tls.key")
		Expect(os.WriteFile(bad, []byte("half written"), 0o600)).To(Succeed())
		for _, pair := range [][2]string{{goodCert, bad}, {goodCert, filepath.Join(filepath.Dir(bad), "missing.key")}} {
			srv, err := New(Options{TLSCertFile: pair[0], TLSKeyFile: pair[1]}, castCache, kube)
			Expect(err).NotTo(HaveOccurred())
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			err = srv.Serve(logf.IntoContext(context.Background(), logf.Log), ln)
			Expect(err).To(MatchError(ContainSubstring(pair[1])))
			// The listener was closed: its port can be bound again.
			again, err := net.Listen("tcp", ln.Addr().String())
			Expect(err).NotTo(HaveOccurred())
			Expect(again.Close()).To(Succeed())
		}
	})
})
