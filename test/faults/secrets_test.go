package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

var _ = Describe("Secrets", Label("security"), func() {
	It("never appear in the controller's or the streamer's logs or metrics, whatever callers send", func(ctx SpecContext) {
		const castToken = "ghp_faults_cast_secret_token"
		op := newOperator()
		op.gh.SetTokens("ghp_faults_token", castToken)
		op.gh.WorkflowID(repository, "cast.yml")
		ns := newNamespace("secrets")
		controllerMetrics, streamerAddr := freeAddr(), freeAddr()
		ctl := op.replica("--metrics-bind-address", controllerMetrics, "--metrics-secure=false", "--zap-log-level", "debug")
		str := startStreamer(streamerAddr, "--zap-log-level", "debug")

		By("a Cast dispatched with its own Secret, and one attached to a run")
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github"},
			StringData: map[string]string{"token": castToken}})).To(Succeed())
		own := kubetest.NewCast(ns, "own-credentials", 0)
		own.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: "github"}
		Expect(k8s.Create(ctx, own)).To(Succeed())
		ids := op.addRuns(9_000_000, 1, "in_progress", nil)
		keys := append(createAttached(ctx, ns, ids), client.ObjectKeyFromObject(own))
		Eventually(func(g Gomega) {
			for _, k := range keys {
				c := &castv1alpha1.Cast{}
				g.Expect(k8s.Get(ctx, k, c)).To(Succeed())
				g.Expect(c.Status.RunID).NotTo(BeZero(), "%s: %s", k.Name, c.Status.Message)
			}
		}).Should(Succeed())

		By("webhooks signed right and wrong")
		hc := &http.Client{Timeout: 5 * time.Second}
		op.gh.UpdateRun(ids[0], func(r *ghapitest.Run) { finishRun(r, "success") })
		run, _ := op.gh.Run(ids[0])
		done := runDelivery(ids[0], "completed", "success", run.RunStartedAt, run.UpdatedAt)
		code, body, err := post(hc, ctl.webhookURL(), "not-the-secret", done)
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(http.StatusUnauthorized), body)
		code, body, err = post(hc, ctl.webhookURL(), webhookSecret, done)
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(http.StatusAccepted), body)

		By("streams and sessions with good, bad and wrong-audience tokens")
		token := viewerToken(ctx, ns)
		foreign, err := kubetest.Token(ctx, kube, ns, "viewer", time.Hour, "https://not-the-api-server")
		Expect(err).NotTo(HaveOccurred())
		ws := watchers(ctx, "http://"+streamerAddr, token, ns, 1)
		Eventually(converged(ws, finalStates(ctx, ns))).Should(Succeed())
		base := "http://" + streamerAddr
		Expect(request(ctx, http.MethodGet, base+"/api/v1/namespaces/"+ns+"/casts", foreign, "")).To(Equal(http.StatusUnauthorized))
		Expect(request(ctx, http.MethodGet, base+"/api/v1/namespaces/"+ns+"/casts", token+"x", "")).To(Equal(http.StatusUnauthorized))
		Expect(request(ctx, http.MethodPost, base+"/api/v1/session", "", fmt.Sprintf(`{"token":%q}`, token))).To(Equal(http.StatusOK))
		Expect(request(ctx, http.MethodPost, base+"/api/v1/session", "", fmt.Sprintf(`{"token":%q}`, foreign))).To(Equal(http.StatusUnauthorized))

		By("reading everything an operator could: both logs and both /metrics")
		seen := map[string]string{
			"controller log":     readFile(ctl.proc.LogFile()),
			"streamer log":       readFile(str.LogFile()),
			"controller metrics": fetch("http://" + controllerMetrics + "/metrics"),
			"streamer metrics":   fetch(str.MetricsURL),
		}
		Expect(seen["controller log"]).To(And(ContainSubstring("webhook delivery rejected"), ContainSubstring("dispatched run")), "the controller must have logged its work")
		Expect(seen["streamer log"]).To(ContainSubstring("stream opened"), "the streamer must have logged its streams")
		Expect(seen["controller metrics"]).To(ContainSubstring("cast_operator_webhooks_received_total"))
		Expect(seen["streamer metrics"]).To(ContainSubstring("cast_streamer_auth_decisions_total"))
		secrets := map[string]string{"GitHub token prefix": "ghp_", "webhook secret": webhookSecret}
		for _, t := range []struct{ name, jwt string }{{"viewer token", token}, {"wrong-audience token", foreign}} {
			parts := strings.Split(t.jwt, ".")
			Expect(parts).To(HaveLen(3))
			secrets[t.name+" claims"], secrets[t.name+" signature"] = parts[1], parts[2]
		}
		for where, text := range seen {
			for what, secret := range secrets {
				Expect(text).NotTo(ContainSubstring(secret), "the %s shows the %s", where, what)
			}
		}
	})
})

// request sends one request with an optional bearer token and JSON body
// and returns the status code.
func request(ctx context.Context, method, url, token, body string) int {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	Expect(err).NotTo(HaveOccurred())
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func readFile(path string) string {
	GinkgoHelper()
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

func fetch(url string) string {
	GinkgoHelper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}
