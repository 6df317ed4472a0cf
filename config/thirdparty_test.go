package config

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/spell-platform/cast-operator/test/kubetest"
)

// thirdPartyCRD is an upstream CRD file inside a Go module: the optional
// components create ServiceMonitors, cert-manager Certificates and Gateway
// API HTTPRoutes, and a dry run only accepts them where their real CRDs are
// installed. The module proxy serves every repository's files at a pinned
// version, so the CRDs are the projects' own, never copies kept here.
type thirdPartyCRD struct {
	module, version, path, name string
}

var thirdPartyCRDs = []thirdPartyCRD{
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0",
		"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml", "servicemonitors.monitoring.coreos.com"},
	{"github.com/cert-manager/cert-manager", "v1.21.2",
		"deploy/crds/cert-manager.io_certificates.yaml", "certificates.cert-manager.io"},
	{"sigs.k8s.io/gateway-api", "v1.6.3",
		"config/crd/standard/gateway.networking.k8s.io_httproutes.yaml", "httproutes.gateway.networking.k8s.io"},
}

// moduleDir downloads a module (or finds it in the module cache) and
// returns its directory. It runs outside this module, so go.mod and go.sum
// stay as they are.
func moduleDir(module, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", module, version, err, out)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("reading go mod download's answer: %w", err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	return info.Dir, nil
}

// installThirdPartyCRDs creates thirdPartyCRDs and waits until each is
// established.
func installThirdPartyCRDs(ctx context.Context, c *kubetest.Cluster, timeout time.Duration) {
	GinkgoHelper()
	scheme := runtime.NewScheme()
	Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())
	crds, err := client.New(c.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	for _, tp := range thirdPartyCRDs {
		dir, err := moduleDir(tp.module, tp.version)
		Expect(err).NotTo(HaveOccurred())
		b, err := os.ReadFile(filepath.Join(dir, tp.path))
		Expect(err).NotTo(HaveOccurred())
		var crd apiextensionsv1.CustomResourceDefinition
		Expect(yaml.UnmarshalStrict(b, &crd)).To(Succeed(), tp.path)
		Expect(crd.Name).To(Equal(tp.name), "the file holds the CRD it is listed for")
		Expect(crds.Create(ctx, &crd)).To(Succeed(), tp.name)
	}
	for _, tp := range thirdPartyCRDs {
		Eventually(func(g Gomega) {
			var crd apiextensionsv1.CustomResourceDefinition
			g.Expect(crds.Get(ctx, types.NamespacedName{Name: tp.name}, &crd)).To(Succeed())
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			g.Expect(established).To(BeTrue(), "%s established", tp.name)
		}).WithTimeout(timeout).Should(Succeed())
	}
}
