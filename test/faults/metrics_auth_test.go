package faults

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/yaml"

	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// The metrics servers run as in a cluster (--metrics-secure, the default):
// every scrape is a TokenReview and a SubjectAccessReview against the real
// kube-apiserver, with real ServiceAccount tokens and the ClusterRole the
// kustomize config ships for Prometheus.
var _ = Describe("Metrics", Label("security"), func() {
	It("are served over HTTPS only to tokens bound to the shipped metrics-reader ClusterRole, and not on the streamer's public port", func(ctx SpecContext) {
		ns := newNamespace("metrics")
		const scraper, stranger = "prometheus", "stranger"
		bindMetricsReader(ctx, ns, scraper)
		allowed, err := kubetest.Token(ctx, kube, ns, scraper, time.Hour)
		Expect(err).NotTo(HaveOccurred())
		denied, err := kubetest.Token(ctx, kube, ns, stranger, time.Hour)
		Expect(err).NotTo(HaveOccurred())

		By("a controller with its default, self-signed certificate")
		controllerMetrics := freeAddr()
		newOperator().replica("--metrics-bind-address", controllerMetrics)
		// Prometheus scrapes a self-signed endpoint with insecure_skip_verify.
		selfSigned := metricsClient(&tls.Config{InsecureSkipVerify: true})

		By("a streamer with the certificate in --metrics-cert-dir")
		certDir, roots := metricsCert()
		streamerAddr := freeAddr()
		str, err := StartStreamer(StreamerConfig{Binary: binary, Kubeconfig: kubeconfig, Addr: streamerAddr,
			LogPath: logPath("streamer"), SecureMetrics: true, Args: []string{"--metrics-cert-dir", certDir}})
		Expect(err).NotTo(HaveOccurred())
		stopOnCleanup(str)
		verified := metricsClient(&tls.Config{RootCAs: roots, ServerName: "localhost"})

		for _, t := range []struct {
			name, url, metric string
			hc                *http.Client
		}{
			{"controller", "https://" + controllerMetrics + "/metrics", "cast_operator_", selfSigned},
			{"streamer", str.MetricsURL, "cast_streamer_", verified},
		} {
			By(t.name + ": no token 401, a rejected token 401, a token without RBAC 403, the metrics-reader's token 200")
			// The controller's metrics server starts with its manager, a
			// moment before its webhook receiver, which StartController
			// waits for.
			Eventually(func() (int, error) { c, _, err := scrape(ctx, t.hc, t.url, ""); return c, err }).
				WithTimeout(30*time.Second).Should(Equal(http.StatusUnauthorized), t.name)
			// A token the TokenReview rejects (tampered, expired, not a
			// JWT) is unauthenticated too.
			code, body, err := scrape(ctx, t.hc, t.url, allowed+"x")
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(http.StatusUnauthorized), t.name+": a tampered token: "+body)
			Expect(body).NotTo(ContainSubstring(t.metric), t.name+": a tampered token")
			code, body, err = scrape(ctx, t.hc, t.url, denied)
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(http.StatusForbidden), t.name+": "+body)
			code, body, err = scrape(ctx, t.hc, t.url, allowed)
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(http.StatusOK), t.name+": "+body)
			Expect(body).To(ContainSubstring(t.metric), t.name)

			By(t.name + ": plain HTTP on the metrics port gets no metrics")
			// Go answers 400 or resets the connection (code 0, err set).
			code, body, err = scrape(ctx, metricsClient(nil), "http"+t.url[len("https"):], allowed)
			Expect(code).NotTo(Equal(http.StatusOK), "%s: %v", t.name, err)
			Expect(body).NotTo(ContainSubstring(t.metric), t.name)
		}

		By("the streamer's public port: 404 for /metrics, even with the metrics-reader's token")
		for _, tok := range []string{"", allowed} {
			code, body, err := scrape(ctx, metricsClient(nil), "http://"+streamerAddr+"/metrics", tok)
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(http.StatusNotFound), body)
		}
	})
})

// bindMetricsReader creates the metrics-reader ClusterRole as
// config/rbac ships it (under a name of the spec's own) and binds it to
// the ServiceAccount ns/sa, then waits until the kube-apiserver's
// authorizer says so: a SubjectAccessReview denied before its RBAC
// informers caught up would be cached by the metrics server for 30 s.
func bindMetricsReader(ctx context.Context, ns, sa string) {
	GinkgoHelper()
	root, err := localcluster.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", "metrics_reader_role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var role rbacv1.ClusterRole
	Expect(yaml.UnmarshalStrict(raw, &role)).To(Succeed())
	Expect(role.Name).To(Equal("metrics-reader"))
	role.Name = ns + "-metrics-reader"
	Expect(k8s.Create(ctx, &role)).To(Succeed())
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}}}
	Expect(k8s.Create(ctx, binding)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(k8s.Delete(ctx, binding)).To(Succeed())
		Expect(k8s.Delete(ctx, &role)).To(Succeed())
	})
	Eventually(func(g Gomega) {
		sar, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: "system:serviceaccount:" + ns + ":" + sa,
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sar.Status.Allowed).To(BeTrue(), sar.Status.Reason)
	}).Should(Succeed())
}

// metricsCert writes a self-signed certificate for localhost and
// 127.0.0.1 as tls.crt and tls.key, as a mounted cert-manager Secret
// holds them, and returns the directory and a pool that trusts it.
func metricsCert() (string, *x509.CertPool) {
	GinkgoHelper()
	crt, key, err := certutil.GenerateSelfSignedCertKey("localhost", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	Expect(os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600)).To(Succeed())
	roots := x509.NewCertPool()
	Expect(roots.AppendCertsFromPEM(crt)).To(BeTrue())
	return dir, roots
}

func metricsClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// scrape GETs url with token as the bearer token (none when empty).
func scrape(ctx context.Context, hc *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
