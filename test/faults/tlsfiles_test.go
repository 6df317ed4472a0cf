package faults

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/gomega"
)

// testCA issues serving certificates for 127.0.0.1, as cert-manager's
// CA issuer would; clients trust the CA, so every certificate it issues
// verifies and the test tells them apart by their common name.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial int64
}

func newTestCA() *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "faults-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	cert, err := x509.ParseCertificate(der)
	Expect(err).NotTo(HaveOccurred())
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, serial: 1}
}

// issue returns a new key and a certificate named cn for 127.0.0.1, as
// the tls.crt and tls.key of a kubernetes.io/tls Secret.
func (ca *testCA) issue(cn string) map[string][]byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return map[string][]byte{
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

// clientTLS trusts the CA only.
func (ca *testCA) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
}

// secretVolume lays files out as kubelet does for a Secret volume (its
// AtomicWriter): the data in a timestamped directory, "..data" a symlink
// to it, and each key a symlink through "..data". An update writes a new
// directory, swaps "..data" with one rename, and removes the old
// directory, so a reader never sees a mix of old and new files.
type secretVolume struct {
	dir     string
	current string // the timestamped directory "..data" points to
	seq     int
}

func (v *secretVolume) path(key string) string { return filepath.Join(v.dir, key) }

// update publishes files (key → content) as the volume's new contents.
func (v *secretVolume) update(files map[string][]byte) {
	v.seq++
	ts := fmt.Sprintf("..%s.%d", time.Now().UTC().Format("2006_01_02_15_04_05"), v.seq)
	Expect(os.Mkdir(filepath.Join(v.dir, ts), 0o755)).To(Succeed())
	for key, b := range files {
		Expect(os.WriteFile(filepath.Join(v.dir, ts, key), b, 0o644)).To(Succeed())
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	Expect(os.Symlink(ts, tmp)).To(Succeed())
	Expect(os.Rename(tmp, filepath.Join(v.dir, "..data"))).To(Succeed())
	for key := range files {
		if _, err := os.Lstat(v.path(key)); os.IsNotExist(err) {
			Expect(os.Symlink(filepath.Join("..data", key), v.path(key))).To(Succeed())
		}
	}
	if v.current != "" {
		Expect(os.RemoveAll(filepath.Join(v.dir, v.current))).To(Succeed())
	}
	v.current = ts
}
