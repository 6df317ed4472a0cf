package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// rules sums up a NetworkPolicy's ingress or egress rules, one line each:
// its ports, then its peers ("any" when it names none, so the rule allows
// those ports to or from every address).
func rules(np object, direction string) []string {
	GinkgoHelper()
	peersKey := map[string]string{"ingress": "from", "egress": "to"}[direction]
	var out []string
	for _, r := range np["spec"].(map[string]any)[direction].([]any) {
		r := r.(map[string]any)
		var ports []string
		for _, p := range r["ports"].([]any) {
			p := p.(map[string]any)
			ports = append(ports, fmt.Sprintf("%v/%v", p["protocol"], p["port"]))
		}
		peers := "any"
		if ps, ok := r[peersKey].([]any); ok {
			b, err := json.Marshal(ps)
			Expect(err).NotTo(HaveOccurred())
			peers = string(b)
		}
		out = append(out, strings.Join(ports, " ")+" "+peersKey+" "+peers)
	}
	return out
}

// policy is a NetworkPolicy's expected rules, as rules sums them up.
type policy struct{ ingress, egress []string }

// networkPolicies checks both NetworkPolicies of a render: each selects its
// Deployment's pods, restricts both directions, and allows exactly want.
func networkPolicies(objs map[string]object, want map[string]policy) {
	GinkgoHelper()
	for name, w := range want {
		np := objs["NetworkPolicy/cast-system/cast-operator-"+name]
		Expect(np).NotTo(BeNil(), name)
		spec := np["spec"].(map[string]any)
		Expect(spec["policyTypes"]).To(ConsistOf("Ingress", "Egress"), name)
		pod := objs["Deployment/cast-system/cast-operator-"+name]["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any)
		for k, v := range spec["podSelector"].(map[string]any)["matchLabels"].(map[string]any) {
			Expect(pod).To(HaveKeyWithValue(k, v), "%s's policy selects its pods", name)
		}
		Expect(rules(np, "ingress")).To(Equal(w.ingress), "%s ingress", name)
		Expect(rules(np, "egress")).To(Equal(w.egress), "%s egress", name)
	}
}

// The egress rules by port alone. NetworkPolicy cannot name the API
// server, so without its addresses its ports are open to any.
const (
	apiServerAnywhere = "TCP/443 TCP/6443 to any"
	dns               = "UDP/53 TCP/53 to any"
	github            = "TCP/443 to any"
)

// portsOnly is what the network-policy component and the chart's default
// values allow: ports, from and to any address.
var portsOnly = map[string]policy{
	"streamer":           {ingress: []string{"TCP/8090 TCP/8443 from any"}, egress: []string{apiServerAnywhere, dns}},
	"controller-manager": {ingress: []string{"TCP/8082 TCP/8443 from any"}, egress: []string{apiServerAnywhere, dns, github}},
}

// documentedPatch is the kustomize patch the network-policy component's
// kustomization.yaml shows in its comment for pinning the API server.
func documentedPatch() string {
	GinkgoHelper()
	doc, err := os.ReadFile(filepath.Join(root, "config", "components", "network-policy", "kustomization.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var patch strings.Builder
	for _, line := range strings.Split(string(doc), "\n") {
		if line == "#   patches:" || (patch.Len() > 0 && strings.HasPrefix(line, "#   ")) {
			patch.WriteString(strings.TrimPrefix(line, "#   ") + "\n")
		} else if patch.Len() > 0 {
			break
		}
	}
	Expect(patch.String()).To(HavePrefix("patches:\n"), "kustomization.yaml shows a patch")
	return patch.String()
}

var _ = Describe("The NetworkPolicies", func() {
	It("of the network-policy component limit by port, to and from any address", func() {
		k, err := overlay(GinkgoT().TempDir(), "network-policy")
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(k)
		Expect(err).NotTo(HaveOccurred())
		networkPolicies(objs, portsOnly)
	})

	It("of the network-policy component pin the API server with the patch its kustomization.yaml shows", func() {
		tmp := GinkgoT().TempDir()
		_, err := overlay(tmp, "network-policy")
		Expect(err).NotTo(HaveOccurred())
		patch := documentedPatch()
		Expect(patch).To(ContainSubstring("name: cast-operator-streamer}"))
		// The comment says to patch each policy; it shows the streamer's.
		item := patch[len("patches:\n"):]
		patch += strings.Replace(item, "name: cast-operator-streamer}", "name: cast-operator-controller-manager}", 1)
		f, err := os.OpenFile(filepath.Join(tmp, "kustomization.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.WriteString(patch)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
		k, err := kustomize(tmp)
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(k)
		Expect(err).NotTo(HaveOccurred())
		pinned := `TCP/443 TCP/6443 to [{"ipBlock":{"cidr":"172.18.0.2/32"}}]`
		networkPolicies(objs, map[string]policy{
			"streamer":           {ingress: portsOnly["streamer"].ingress, egress: []string{pinned, dns}},
			"controller-manager": {ingress: portsOnly["controller-manager"].ingress, egress: []string{pinned, dns, github}},
		})
	})

	It("of the chart's default values limit by port, to and from any address", func() {
		rendered, err := renderChart("networkPolicy: {enabled: true}")
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		networkPolicies(objs, portsOnly)
	})

	It("of the chart pin the API server to networkPolicy.apiServer.cidrs and admit only the peers given", func() {
		rendered, err := renderChart(`
networkPolicy:
  enabled: true
  apiServer: {cidrs: [172.18.0.2/32, 10.0.0.0/24]}
  streamer: {from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]}
  controller: {from: [{ipBlock: {cidr: 192.0.2.0/24}}]}
`)
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		pinned := `TCP/443 TCP/6443 to [{"ipBlock":{"cidr":"172.18.0.2/32"}},{"ipBlock":{"cidr":"10.0.0.0/24"}}]`
		networkPolicies(objs, map[string]policy{
			"streamer": {
				ingress: []string{`TCP/8090 TCP/8443 from [{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}}]`},
				egress:  []string{pinned, dns},
			},
			"controller-manager": {
				ingress: []string{`TCP/8082 TCP/8443 from [{"ipBlock":{"cidr":"192.0.2.0/24"}}]`},
				// GitHub's addresses change: HTTPS to any address stays.
				egress: []string{pinned, dns, github},
			},
		})
	})
})
