package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"
)

// allOptional is every optional value of the chart on, with the values
// the kustomize components use as their placeholders, so the two renders
// can be compared object by object.
const allOptional = `
github: {app: {enabled: true}}
metrics: {serviceMonitor: {enabled: true}}
networkPolicy: {enabled: true}
streamer:
  tls: {certManager: {enabled: true, issuerRef: {name: cast-operator-issuer}}}
  oidc:
    enabled: true
    issuerURL: https://dex.example.com
    clientID: cast-dashboard
    redirectURL: https://cast.example.com/api/v1/oidc/callback
    scopes: [openid, email, groups, offline_access]
ingress: {enabled: true, host: cast.example.com, tls: {secretName: cast-operator-ingress-tls}}
httpRoute:
  enabled: true
  parentRefs: [{name: gateway, namespace: gateway-system}]
  hostnames: [cast.example.com]
grafana: {dashboard: {enabled: true}}
`

// allComponents are the optional kustomize components.
var allComponents = []string{"github-app", "prometheus", "network-policy", "cert-manager", "ingress", "gateway-httproute", "oidc"}

// diffObjects compares two renders object by object and describes every
// difference: objects only one side has, then a diff per differing object
// (-kustomize +chart).
func diffObjects(kust, chart map[string]object) string {
	var b strings.Builder
	for _, k := range keys(kust) {
		if _, ok := chart[k]; !ok {
			fmt.Fprintf(&b, "only in kustomize: %s\n", k)
		}
	}
	for _, k := range keys(chart) {
		if _, ok := kust[k]; !ok {
			fmt.Fprintf(&b, "only in the chart: %s\n", k)
		}
	}
	for _, k := range keys(kust) {
		if c, ok := chart[k]; ok {
			if d := cmp.Diff(kust[k], c); d != "" {
				fmt.Fprintf(&b, "%s differs (-kustomize +chart):\n%s\n", k, d)
			}
		}
	}
	return b.String()
}

func lintChart(valuesYAML string) []string {
	GinkgoHelper()
	vals, err := chartutil.ReadValues([]byte(valuesYAML))
	Expect(err).NotTo(HaveOccurred())
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	Expect(err).NotTo(HaveOccurred())
	lint := action.NewLint()
	lint.Strict = true
	lint.Namespace = releaseNamespace
	lint.KubeVersion = kv
	res := lint.Run([]string{chartDir()}, vals)
	var problems []string
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			problems = append(problems, m.Error())
		}
	}
	for _, err := range res.Errors {
		problems = append(problems, err.Error())
	}
	return problems
}

// renderBoth renders the chart with values and the kustomize side, and
// normalises what may differ: the image (config/ has a placeholder), the
// part-of label kustomize puts on the CRD (crds/ is not templated), the
// namespace kustomize puts on cluster-scoped kinds it does not know (the
// API server drops it), the chart's keep policy on its Namespace and the
// checksums that roll the chart's pods when their configuration changes.
func renderBoth(values string, kustomized func() ([]byte, error)) (chart, kust map[string]object) {
	GinkgoHelper()
	rendered, err := renderChart(values)
	Expect(err).NotTo(HaveOccurred())
	chart, err = parseObjects(rendered)
	Expect(err).NotTo(HaveOccurred())
	k, err := kustomized()
	Expect(err).NotTo(HaveOccurred())
	kust, err = parseObjects(k)
	Expect(err).NotTo(HaveOccurred())
	dropClusterScopedNamespace(kust)
	normaliseImages(chart)
	normaliseImages(kust)
	dropCRDPartOfLabel(kust)
	dropNamespaceKeep(chart)
	dropChecksumAnnotations(chart)
	return chart, kust
}

var _ = Describe("The Helm chart", func() {
	It("passes helm lint (strict) with default values and with every option on", func() {
		Expect(lintChart("")).To(BeEmpty())
		Expect(lintChart(allOptional)).To(BeEmpty())
	})

	It("renders with default values the same objects as kubectl kustomize config/default", func() {
		chart, kust := renderBoth("", func() ([]byte, error) { return kustomize(filepath.Join(root, "config", "default")) })
		Expect(len(kust)).To(BeNumerically(">=", 19), "config/default renders every object")
		Expect(diffObjects(kust, chart)).To(BeEmpty())
	})

	It("renders with every option on the same objects as config/default with every component", func() {
		chart, kust := renderBoth(allOptional, func() ([]byte, error) { return overlay(GinkgoT().TempDir(), allComponents...) })
		// The Grafana dashboard is the chart's alone (kustomize users load
		// the JSON into Grafana themselves).
		Expect(chart).To(HaveKey("ConfigMap/cast-system/cast-operator-dashboard"))
		delete(chart, "ConfigMap/cast-system/cast-operator-dashboard")
		// The chart knows the streamer serves TLS and tells ingress-nginx
		// to speak HTTPS to it; the ingress component cannot know about the
		// cert-manager component, so its comment asks users to add this.
		ing := kust["Ingress/cast-system/cast-operator-streamer"]
		Expect(ing).NotTo(BeNil())
		ing["metadata"].(map[string]any)["annotations"].(map[string]any)["nginx.ingress.kubernetes.io/backend-protocol"] = "HTTPS"
		Expect(diffObjects(kust, chart)).To(BeEmpty())
	})

	It("ships crds/ as the very CRD make manifests generates", func() {
		generated, err := os.ReadFile(filepath.Join(root, "config", "crd", "bases", "spell.dev_casts.yaml"))
		Expect(err).NotTo(HaveOccurred())
		shipped, err := os.ReadFile(filepath.Join(chartDir(), "crds", "spell.dev_casts.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(bytes.Equal(shipped, generated)).To(BeTrue(),
			"charts/cast-operator/crds/spell.dev_casts.yaml differs from config/crd/bases/spell.dev_casts.yaml: run make manifests")
		chrt, err := loader.Load(chartDir())
		Expect(err).NotTo(HaveOccurred())
		Expect(chrt.CRDObjects()).To(HaveLen(1), "the chart ships exactly the Cast CRD")
	})

	It("has the operator's version as its appVersion and tags the image with it", func() {
		chrt, err := loader.Load(chartDir())
		Expect(err).NotTo(HaveOccurred())
		Expect(chrt.Metadata.Version).To(Equal("0.1.0"))
		if v, err := os.ReadFile(filepath.Join(root, "VERSION")); err == nil {
			Expect(chrt.Metadata.AppVersion).To(Equal(strings.TrimSpace(string(v))), "Chart.yaml appVersion is the VERSION file's")
		}
		rendered, err := renderChart("")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(rendered)).To(ContainSubstring("image: ghcr.io/spell-platform/cast-operator:" + chrt.Metadata.AppVersion + "\n"))
		rendered, err = renderChart("image: {repository: registry.example/cast, digest: 'sha256:0123'}")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Count(string(rendered), "image: registry.example/cast@sha256:0123\n")).To(Equal(2), "both Deployments run the pinned digest")
	})

	It("appends extraArgs and sizes replicas and resources from values", func() {
		rendered, err := renderChart(`
controller: {replicas: 3, extraArgs: [--zap-log-level=debug], resources: {requests: {cpu: 100m}, limits: {memory: 1Gi}}}
streamer: {replicas: 4, extraArgs: ["--trusted-proxies=10.0.0.0/8"]}
`)
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		ctrl := objs["Deployment/cast-system/cast-operator-controller-manager"]
		str := objs["Deployment/cast-system/cast-operator-streamer"]
		Expect(ctrl["spec"].(map[string]any)["replicas"]).To(BeEquivalentTo(3))
		Expect(str["spec"].(map[string]any)["replicas"]).To(BeEquivalentTo(4))
		args := func(o object) []any { return containers(o)[0].(map[string]any)["args"].([]any) }
		Expect(args(ctrl)).To(HaveLen(8))
		Expect(args(ctrl)[7]).To(Equal("--zap-log-level=debug"))
		Expect(args(str)[len(args(str))-1]).To(Equal("--trusted-proxies=10.0.0.0/8"))
		Expect(containers(ctrl)[0].(map[string]any)["resources"]).To(Equal(map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}, // Helm merges values maps
			"limits":   map[string]any{"memory": "1Gi"},
		}))
	})

	It("labels every object with commonLabels and schedules both Deployments by nodeSelector and tolerations", func() {
		rendered, err := renderChart("commonLabels: {team: platform}\nnodeSelector: {pool: ops}\ntolerations: [{key: ops, operator: Exists}]\n")
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		for k, o := range objs {
			if o["kind"] == "CustomResourceDefinition" {
				continue // crds/ is not templated
			}
			Expect(o["metadata"].(map[string]any)["labels"]).To(HaveKeyWithValue("team", "platform"), k)
		}
		for _, name := range []string{"controller-manager", "streamer"} {
			pod := objs["Deployment/cast-system/cast-operator-"+name]["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			Expect(pod["nodeSelector"]).To(Equal(map[string]any{"pool": "ops"}), name)
			Expect(pod["tolerations"]).To(Equal([]any{map[string]any{"key": "ops", "operator": "Exists"}}), name)
		}
	})

	It("refuses an Ingress without a host and an HTTPRoute without a Gateway", func() {
		_, err := renderChart("ingress: {enabled: true}")
		Expect(err).To(MatchError(ContainSubstring("ingress.host is required")))
		_, err = renderChart("httpRoute: {enabled: true}")
		Expect(err).To(MatchError(ContainSubstring("httpRoute.parentRefs is required")))
	})

	It("puts the Grafana dashboard in a ConfigMap Grafana's sidecar loads", func() {
		rendered, err := renderChart("grafana: {dashboard: {enabled: true}}")
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		cm := objs["ConfigMap/cast-system/cast-operator-dashboard"]
		Expect(cm).NotTo(BeNil())
		Expect(cm["metadata"].(map[string]any)["labels"]).To(HaveKeyWithValue("grafana_dashboard", "1"))
		want, err := os.ReadFile(filepath.Join(chartDir(), "dashboards", "cast-operator.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(cm["data"]).To(HaveKeyWithValue("cast-operator.json", strings.TrimRight(string(want), "\n")))
		var dashboard map[string]any
		Expect(yaml.Unmarshal([]byte(cm["data"].(map[string]any)["cast-operator.json"].(string)), &dashboard)).To(Succeed())
	})
})

var _ = Describe("The chart's values schema", func() {
	DescribeTable("refuses values that would render a broken release",
		func(values, want string) {
			_, err := renderChart(values)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("a misspelt key", "ingres: {enabled: true}", "ingres"),
		Entry("replicas as a string", "streamer: {replicas: two}", "replicas"),
		Entry("an HTTPRoute timeout that is no Gateway API duration", "httpRoute: {streamTimeout: 1 hour}", "streamTimeout"),
		Entry("single sign-on without an issuer",
			"streamer: {oidc: {enabled: true, clientID: c, redirectURL: 'https://c.example/api/v1/oidc/callback'}}",
			"streamer.oidc.issuerURL is required when streamer.oidc.enabled is true"),
		Entry("single sign-on without a client ID",
			"streamer: {oidc: {enabled: true, issuerURL: 'https://dex.example', redirectURL: 'https://c.example/api/v1/oidc/callback'}}",
			"streamer.oidc.clientID is required when streamer.oidc.enabled is true"),
		Entry("single sign-on without a redirect URL",
			"streamer: {oidc: {enabled: true, issuerURL: 'https://dex.example', clientID: c}}",
			"streamer.oidc.redirectURL is required when streamer.oidc.enabled is true"),
		Entry("an issuer that is not https", "streamer: {oidc: {issuerURL: 'http://dex.example'}}", "/streamer/oidc/issuerURL"),
		Entry("a redirect URL that is not the callback", "streamer: {oidc: {redirectURL: 'https://c.example/'}}", "/streamer/oidc/redirectURL"),
	)
})

var _ = Describe("The packaged chart", func() {
	It("holds the CRD, the dashboard and the schema, and renders as the directory does", func() {
		pkg := action.NewPackage()
		pkg.Destination = GinkgoT().TempDir()
		path, err := pkg.Run(chartDir(), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Base(path)).To(Equal("cast-operator-0.1.0.tgz"))
		packaged, err := loader.Load(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(packaged.CRDObjects()).To(HaveLen(1))
		Expect(packaged.Schema).NotTo(BeEmpty())
		var files []string
		for _, f := range packaged.Files {
			files = append(files, f.Name)
		}
		Expect(files).To(ContainElement("dashboards/cast-operator.json"))
	})
})
