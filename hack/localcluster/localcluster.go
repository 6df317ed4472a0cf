// Package localcluster runs a real kube-apiserver and etcd on this machine,
// from the binaries hack/build-envtest.sh builds, with the Cast CRD
// installed. `make run` and every envtest suite start their control plane
// here so both see exactly the API users get.
package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/spell-platform/cast-operator/internal/scheme"
)

// ErrNoAssets means neither KUBEBUILDER_ASSETS nor bin/k8s holds the
// control-plane binaries; `make envtest` builds them.
var ErrNoAssets = errors.New("no envtest binaries: set KUBEBUILDER_ASSETS or run `make envtest`")

// Scheme knows the built-in kinds and Cast, for clients of the local
// cluster; it is internal/scheme's, the one the commands use.
func Scheme() *k8sruntime.Scheme { return scheme.New() }

// RepoRoot finds the checkout this code runs from by walking up from the
// working directory to go.mod, so tests in any package and `go run .` find
// config/ and bin/ alike.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "config", "crd", "bases")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the cast-operator checkout: no go.mod with config/crd/bases above the working directory")
		}
		dir = parent
	}
}

// AssetsDir returns where kube-apiserver and etcd live: KUBEBUILDER_ASSETS
// when the user set it, otherwise the newest build under bin/k8s for this
// platform.
func AssetsDir(root string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, checkAssets(dir)
	}
	found, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "*-"+runtime.GOOS+"-"+runtime.GOARCH))
	sort.Strings(found)
	for i := len(found) - 1; i >= 0; i-- {
		if checkAssets(found[i]) == nil {
			return found[i], nil
		}
	}
	return "", ErrNoAssets
}

func checkAssets(dir string) error {
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%w (%s has no %s)", ErrNoAssets, dir, name)
		}
	}
	return nil
}

// New prepares (does not start) a control plane with the Cast CRD from
// config/crd/bases. dataDir keeps etcd's data across restarts; empty means a
// throw-away temporary directory, as tests want.
func New(dataDir string) (*envtest.Environment, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir(root)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		Scheme:                Scheme(),
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	if dataDir != "" {
		env.ControlPlane.Etcd = &envtest.Etcd{DataDir: dataDir}
	}
	return env, nil
}
