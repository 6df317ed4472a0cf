package config

import (
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"sigs.k8s.io/yaml"

	"github.com/spell-platform/cast-operator/streamer"
)

// Every render a user can apply passes the API server's own validation.
var _ = Describe("Server-side dry runs", func() {
	It("accept kubectl kustomize config/default", func() {
		k, err := kustomize(filepath.Join(root, "config", "default"))
		Expect(err).NotTo(HaveOccurred())
		out, err := dryRun(k)
		Expect(err).NotTo(HaveOccurred(), out)
		for _, want := range []string{
			"customresourcedefinition.apiextensions.k8s.io/casts.spell.dev",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-manager-role",
			"deployment.apps/cast-operator-controller-manager",
			"service/cast-operator-webhook",
			"deployment.apps/cast-operator-streamer",
			"service/cast-operator-streamer",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-streamer-role",
			"poddisruptionbudget.policy/cast-operator-streamer",
			"service/cast-operator-controller-manager-metrics-service",
			"service/cast-operator-streamer-metrics-service",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-metrics-auth-role",
			"clusterrolebinding.rbac.authorization.k8s.io/cast-operator-metrics-auth-rolebinding",
			"clusterrole.rbac.authorization.k8s.io/cast-operator-metrics-reader",
			"validatingadmissionpolicy.admissionregistration.k8s.io/cast-operator-cast-requester",
			"validatingadmissionpolicybinding.admissionregistration.k8s.io/cast-operator-cast-requester",
		} {
			Expect(out).To(ContainSubstring(want))
		}
	})

	It("accept config/default with every optional component", func() {
		k, err := overlay(GinkgoT().TempDir(), allComponents...)
		Expect(err).NotTo(HaveOccurred())
		out, err := dryRun(k)
		Expect(err).NotTo(HaveOccurred(), out)
		for _, want := range []string{
			"deployment.apps/cast-operator-controller-manager",
			"servicemonitor.monitoring.coreos.com/cast-operator-controller-manager-metrics-monitor",
			"servicemonitor.monitoring.coreos.com/cast-operator-streamer-metrics-monitor",
			"networkpolicy.networking.k8s.io/cast-operator-streamer",
			"networkpolicy.networking.k8s.io/cast-operator-controller-manager",
			"certificate.cert-manager.io/cast-operator-streamer-tls",
			"ingress.networking.k8s.io/cast-operator-streamer",
			"httproute.gateway.networking.k8s.io/cast-operator-streamer",
			"configmap/cast-operator-streamer-oidc",
		} {
			Expect(out).To(ContainSubstring(want))
		}
	})

	// Each alone too: a component must not lean on another one's objects.
	DescribeTable("accept config/default with one optional component",
		func(component string, want ...string) {
			k, err := overlay(GinkgoT().TempDir(), component)
			Expect(err).NotTo(HaveOccurred())
			out, err := dryRun(k)
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("deployment.apps/cast-operator-streamer"))
			for _, w := range want {
				Expect(out).To(ContainSubstring(w))
			}
		},
		Entry("cert-manager", "cert-manager", "certificate.cert-manager.io/cast-operator-streamer-tls"),
		Entry("prometheus", "prometheus",
			"servicemonitor.monitoring.coreos.com/cast-operator-controller-manager-metrics-monitor",
			"servicemonitor.monitoring.coreos.com/cast-operator-streamer-metrics-monitor"),
		Entry("network-policy", "network-policy",
			"networkpolicy.networking.k8s.io/cast-operator-streamer",
			"networkpolicy.networking.k8s.io/cast-operator-controller-manager"),
	)

	It("run the controller as a GitHub App with the github-app component", func() {
		k, err := overlay(GinkgoT().TempDir(), "github-app")
		Expect(err).NotTo(HaveOccurred())
		for _, want := range []string{"--github-app-id=$(GITHUB_APP_ID)", "key: githubAppID",
			"--github-app-private-key-file=/etc/cast-operator/github-app/githubAppPrivateKey", "secretName: github-app"} {
			Expect(string(k)).To(ContainSubstring(want))
		}
		out, err := dryRun(k)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("deployment.apps/cast-operator-controller-manager"))
	})

	It("warn of a pod template below Pod Security restricted, so the other dry runs show none is", func() {
		rendered, err := renderChart("")
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		d := objs["Deployment/cast-system/cast-operator-streamer"]
		delete(containers(d)[0].(map[string]any), "securityContext")
		b, err := yaml.Marshal(d)
		Expect(err).NotTo(HaveOccurred())
		out, err := dryRun(b)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(`would violate PodSecurity "restricted:latest"`))
	})

	It("accept the chart with default values and with every option on", func() {
		for _, values := range []string{"", allOptional} {
			rendered, err := renderChart(values)
			Expect(err).NotTo(HaveOccurred())
			out, err := dryRun(rendered)
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("customresourcedefinition.apiextensions.k8s.io/casts.spell.dev"))
			Expect(out).To(ContainSubstring("deployment.apps/cast-operator-streamer"))
			if values != "" {
				Expect(out).To(ContainSubstring("configmap/cast-operator-dashboard"))
				Expect(out).To(ContainSubstring("httproute.gateway.networking.k8s.io/cast-operator-streamer"))
				Expect(out).To(ContainSubstring("certificate.cert-manager.io/cast-operator-streamer-tls"))
				Expect(out).To(ContainSubstring("servicemonitor.monitoring.coreos.com/cast-operator-streamer-metrics-monitor"))
				Expect(out).To(ContainSubstring("configmap/cast-operator-streamer-oidc"))
			}
		}
	})
})

// Server-Sent Events through a proxy: the stream must not be buffered, and
// the proxy must not close it between the streamer's heartbeats or before
// the streamer ends it itself (--max-stream-duration).
var _ = DescribeTable("SSE-safe routes",
	func(render func() ([]byte, error)) {
		rendered, err := render()
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())

		ing := objs["Ingress/cast-system/cast-operator-streamer"]
		Expect(ing).NotTo(BeNil())
		ann := ing["metadata"].(map[string]any)["annotations"].(map[string]any)
		Expect(ann).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/proxy-buffering", "off"))
		for _, a := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
			secs, err := strconv.Atoi(ann[a].(string))
			Expect(err).NotTo(HaveOccurred(), a)
			Expect(time.Duration(secs)*time.Second).To(BeNumerically(">", streamer.DefaultMaxStreamDuration), a)
			Expect(time.Duration(secs)*time.Second).To(BeNumerically(">=", 4*streamer.DefaultHeartbeatInterval), a)
		}
		var backends []string
		for _, p := range ing["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)["http"].(map[string]any)["paths"].([]any) {
			p := p.(map[string]any)
			backends = append(backends, p["path"].(string)+" "+p["backend"].(map[string]any)["service"].(map[string]any)["name"].(string))
		}
		Expect(backends).To(ConsistOf("/webhooks/github cast-operator-webhook", "/ cast-operator-streamer"))

		route := objs["HTTPRoute/cast-system/cast-operator-streamer"]
		Expect(route).NotTo(BeNil())
		var streamRule map[string]any
		for _, r := range route["spec"].(map[string]any)["rules"].([]any) {
			r := r.(map[string]any)
			if r["backendRefs"].([]any)[0].(map[string]any)["name"] == "cast-operator-streamer" {
				streamRule = r
			}
		}
		Expect(streamRule).NotTo(BeNil(), "a rule routes to the streamer")
		for _, t := range []string{"request", "backendRequest"} {
			d, err := time.ParseDuration(streamRule["timeouts"].(map[string]any)[t].(string))
			Expect(err).NotTo(HaveOccurred(), t)
			Expect(d == 0 || d > streamer.DefaultMaxStreamDuration).To(BeTrue(), "%s timeout %s: 0s (off) or above the maximum stream duration", t, d)
		}
	},
	Entry("the chart", func() ([]byte, error) { return renderChart(allOptional) }),
	Entry("the ingress and gateway-httproute components", func() ([]byte, error) {
		return overlay(GinkgoT().TempDir(), "ingress", "gateway-httproute")
	}),
)
