// Package npmtest installs the npm packages the JavaScript client's tests
// need (React for the hook's page, TypeScript to check the types) once per
// checkout, under bin/, with the machine's npm: the tests then run against
// the libraries users have, not copies kept in the repository.
package npmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// Packages are the pinned versions the tests install. React 18 is the
// last with browser-ready (UMD) builds, so a page loads it without a
// bundler; @types/react and @types/react-dom let tsc check the example page.
var Packages = []string{
	"react@18.3.1",
	"react-dom@18.3.1",
	"typescript@5.9.3",
	"@types/react@18.3.28",
	"@types/react-dom@18.3.7",
}

// installTimeout bounds one npm install (a cold npm cache downloads a few MB).
const installTimeout = 5 * time.Minute

// Install returns a node_modules directory holding Packages, installing
// them under bin/npm-test/ first unless an earlier run did. A missing npm
// is an error that says so: npm is on every machine this project builds on.
func Install(ctx context.Context) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("the JavaScript client's tests need npm (and node) on PATH: install Node.js, e.g. `apt-get install npm`")
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strings.Join(Packages, " ")))
	parent := filepath.Join(root, "bin", "npm-test")
	dir := filepath.Join(parent, hex.EncodeToString(sum[:6]))
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return modules, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	// Installed aside and renamed into place, so test packages running
	// at once never see half an install, and the loser of a race uses
	// the winner's.
	tmp, err := os.MkdirTemp(parent, "install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private": true}`+"\n"), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	args := append([]string{"install", "--no-audit", "--no-fund", "--no-package-lock", "--ignore-scripts", "--loglevel=error"}, Packages...)
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %s: %w\n%s", strings.Join(Packages, " "), err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, ".complete")); statErr == nil {
			return modules, nil // another package's test installed it meanwhile
		}
		return "", fmt.Errorf("moving the npm install into %s: %w", dir, err)
	}
	return modules, nil
}
