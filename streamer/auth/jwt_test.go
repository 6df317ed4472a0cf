package auth

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/gomega"
)

// resign returns a real ServiceAccount token with its validity window
// moved to [issued, expires] and signed again with the test API server's
// own signing key. TokenRequest will not issue tokens shorter than ten
// minutes; this gives genuinely expired (or about to expire) tokens that
// the API server itself judges, with everything else about them real.
func resign(token string, issued, expires time.Time) string {
	parts := strings.Split(token, ".")
	ExpectWithOffset(1, parts).To(HaveLen(3))

	var header struct {
		Alg string `json:"alg"`
	}
	ExpectWithOffset(1, json.Unmarshal(mustDecodeSegment(parts[0]), &header)).To(Succeed())
	ExpectWithOffset(1, header.Alg).To(Equal("ES256"), "envtest signs ServiceAccount tokens with a P-256 key")

	var claims map[string]any
	ExpectWithOffset(1, json.Unmarshal(mustDecodeSegment(parts[1]), &claims)).To(Succeed())
	claims["iat"] = issued.Unix()
	claims["nbf"] = issued.Unix()
	claims["exp"] = expires.Unix()
	payload, err := json.Marshal(claims)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())

	signingInput := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, serviceAccountSigningKey(), digest[:])
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func mustDecodeSegment(seg string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	ExpectWithOffset(2, err).NotTo(HaveOccurred())
	return b
}

// serviceAccountSigningKey is the key envtest passes to kube-apiserver as
// --service-account-signing-key-file.
func serviceAccountSigningKey() *ecdsa.PrivateKey {
	raw, err := os.ReadFile(filepath.Join(cluster.Env.ControlPlane.APIServer.CertDir, "sa-signer.key"))
	ExpectWithOffset(2, err).NotTo(HaveOccurred())
	block, _ := pem.Decode(raw)
	ExpectWithOffset(2, block).NotTo(BeNil())
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	ExpectWithOffset(2, err).NotTo(HaveOccurred())
	ec, ok := key.(*ecdsa.PrivateKey)
	ExpectWithOffset(2, ok).To(BeTrue(), "signing key is %T, want ECDSA", key)
	return ec
}
