package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	// releaseName and releaseNamespace make the chart's names those of
	// config/default (namePrefix cast-operator-, namespace cast-system).
	releaseName      = "cast-operator"
	releaseNamespace = "cast-system"
	// kubeVersion is the envtest control plane's, which the dry runs use.
	kubeVersion = "v1.37.2"
)

// chartDir is the chart's directory.
func chartDir() string { return filepath.Join(root, "charts", "cast-operator") }

// renderChart renders the chart as `helm template --include-crds` does:
// an install that only renders (dry run, client only), with the CRDs.
func renderChart(valuesYAML string) ([]byte, error) {
	chrt, err := loader.Load(chartDir())
	if err != nil {
		return nil, fmt.Errorf("loading the chart: %w", err)
	}
	vals, err := chartutil.ReadValues([]byte(valuesYAML))
	if err != nil {
		return nil, fmt.Errorf("reading values: %w", err)
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", kubeVersion, err)
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.IncludeCRDs = true
	install.Replace = true
	install.ReleaseName = releaseName
	install.Namespace = releaseNamespace
	install.KubeVersion = kv
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering the chart: %w", err)
	}
	return []byte(rel.Manifest), nil
}

// kustomize renders dir with `kubectl kustomize`, as `make deploy` does.
func kustomize(dir string) ([]byte, error) {
	out, err := exec.Command("kubectl", "kustomize", dir).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return nil, fmt.Errorf("kubectl kustomize %s: %w: %s", dir, err, exit.Stderr)
	}
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %w", dir, err)
	}
	return out, nil
}

// overlay writes a user's overlay of config/default with the given
// components into a temporary copy of config/ and renders it.
func overlay(tmp string, components ...string) ([]byte, error) {
	if err := exec.Command("cp", "-r", filepath.Join(root, "config"), tmp).Run(); err != nil {
		return nil, fmt.Errorf("copying config/: %w", err)
	}
	k := "resources: [config/default]\ncomponents:\n"
	for _, c := range components {
		k += "- config/components/" + c + "\n"
	}
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		return nil, fmt.Errorf("writing the overlay: %w", err)
	}
	return kustomize(tmp)
}

// dryRun applies manifests server-side, as `make deploy` does, with
// --dry-run=server: the API server validates every object (schemas, CRDs,
// admission) and stores none. Any warning is an error.
func dryRun(manifests []byte) (string, error) {
	cmd := exec.Command("kubectl", "--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-")
	cmd.Stdin = bytes.NewReader(manifests)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl apply --server-side --dry-run=server: %w", err)
	}
	if strings.Contains(string(out), "Warning:") {
		return string(out), errors.New("kubectl apply --server-side --dry-run=server warned (e.g. a pod template below Pod Security restricted)")
	}
	return string(out), nil
}

// object is one decoded manifest, as JSON values (numbers are float64 on
// both sides, so equal YAML compares equal).
type object = map[string]any

// key names an object as kubectl does: kind/namespace/name.
func key(o object) string {
	meta, _ := o["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v/%v", o["kind"], meta["namespace"], meta["name"])
}

// parseObjects decodes a multi-document YAML stream, skipping empty
// documents, into objects by key.
func parseObjects(manifests []byte) (map[string]object, error) {
	objs := map[string]object{}
	dec := utilyaml.NewYAMLReader(bufioReader(manifests))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading a document: %w", err)
		}
		var o object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			return nil, fmt.Errorf("decoding %q: %w", firstLine(doc), err)
		}
		if len(o) == 0 {
			continue
		}
		k := key(o)
		if _, dup := objs[k]; dup {
			return nil, fmt.Errorf("%s appears twice", k)
		}
		objs[k] = o
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// keys lists the objects' keys, sorted.
func keys(objs map[string]object) []string {
	ks := make([]string, 0, len(objs))
	for k := range objs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// containers returns a Deployment's containers, for reading and editing.
func containers(o object) []any {
	spec, _ := o["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	podSpec, _ := tmpl["spec"].(map[string]any)
	cs, _ := podSpec["containers"].([]any)
	return cs
}

// normaliseImages sets every Deployment container's image to one value:
// config/ names a placeholder (controller:latest, replaced by `make
// deploy`), the chart the released image.
func normaliseImages(objs map[string]object) {
	for _, o := range objs {
		if o["kind"] != "Deployment" {
			continue
		}
		for _, c := range containers(o) {
			c.(map[string]any)["image"] = "IMAGE"
		}
	}
}

// dropCRDPartOfLabel removes the label config/default's `labels:` adds to
// the CRD: the chart ships the CRD in crds/, which Helm does not template,
// as the very file controller-gen writes (a test keeps them equal).
func dropCRDPartOfLabel(objs map[string]object) {
	for _, o := range objs {
		if o["kind"] != "CustomResourceDefinition" {
			continue
		}
		meta := o["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		delete(labels, "app.kubernetes.io/part-of")
		if len(labels) == 0 {
			delete(meta, "labels")
		}
	}
}

// dropClusterScopedNamespace drops the namespace kubectl's kustomize sets
// on the ValidatingAdmissionPolicy and its binding: its schema does not
// know they are cluster-scoped. The API server ignores it on create.
func dropClusterScopedNamespace(objs map[string]object) {
	for k, o := range objs {
		switch o["kind"] {
		case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			delete(o["metadata"].(map[string]any), "namespace")
			delete(objs, k)
			objs[key(o)] = o
		}
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// dropNamespaceKeep removes the annotation that makes `helm uninstall`
// leave the chart's Namespace, and with it the user's Secrets, in place;
// kustomize users delete what they applied themselves.
func dropNamespaceKeep(objs map[string]object) {
	for _, o := range objs {
		if o["kind"] != "Namespace" {
			continue
		}
		meta := o["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		delete(ann, "helm.sh/resource-policy")
		if len(ann) == 0 {
			delete(meta, "annotations")
		}
	}
}

// dropChecksumAnnotations removes the pod template annotations
// (checksum/...) with which the chart rolls a Deployment's pods when a
// ConfigMap they read at start changes; kustomize users restart them.
func dropChecksumAnnotations(objs map[string]object) {
	for _, o := range objs {
		if o["kind"] != "Deployment" {
			continue
		}
		meta, _ := o["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		for k := range ann {
			if strings.HasPrefix(k, "checksum/") {
				delete(ann, k)
			}
		}
		if ann != nil && len(ann) == 0 {
			delete(meta, "annotations")
		}
	}
}
