package castcli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// selfSigned writes a CA-signed-by-itself certificate for 127.0.0.1 and its
// key, and returns their paths and the certificate's PEM.
func selfSigned(t *testing.T) (certFile, keyFile string, certPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kubetest.Must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cast-streamer-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kubetest.Must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	kubetest.Must(t, err)
	dir := t.TempDir()
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	kubetest.Must(t, os.WriteFile(certFile, certPEM, 0o600))
	kubetest.Must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile, certPEM
}

// testStreamerCA follows a Cast from an https streamer whose CA comes from
// --streamer-ca-file or from the kubeconfig's cluster extension.
func testStreamerCA(t *testing.T, e *pluginEnv) {
	ctx := context.Background()
	certFile, keyFile, certPEM := selfSigned(t)
	url := e.startStreamer(t, streamer.Options{TLSCertFile: certFile, TLSKeyFile: keyFile})
	e.cast(t, "over-tls", castv1alpha1.PhaseSucceeded, 1)

	t.Run("without the CA the certificate is not trusted", func(t *testing.T) {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		r := run(tctx, "--context", "envtest", "watch", "over-tls", "--server", url)
		if r.code != 130 || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("--streamer-ca-file", func(t *testing.T) {
		r := run(ctx, "--context", "envtest", "watch", "over-tls", "--server", url, "--streamer-ca-file", certFile)
		if r.code != 0 || !strings.Contains(r.stdout, "Succeeded") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("the kubeconfig extension's server and certificate-authority-data", func(t *testing.T) {
		b, err := os.ReadFile(e.kubeconfig)
		kubetest.Must(t, err)
		cfg := strings.Replace(string(b), "        server: "+e.url+"\n",
			"        server: "+url+"\n        certificate-authority-data: "+base64.StdEncoding.EncodeToString(certPEM)+"\n", 1)
		if cfg == string(b) {
			t.Fatal("the kubeconfig has no streamer extension to rewrite")
		}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		kubetest.Must(t, os.WriteFile(path, []byte(cfg), 0o600))
		r := run(ctx, "--kubeconfig", path, "--context", "envtest", "watch", "over-tls")
		if r.code != 0 || !strings.Contains(r.stdout, "Succeeded") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}
