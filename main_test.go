package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRunCommandLine(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{args: nil, wantCode: 2, wantOut: "Usage: cast-operator <command>"},
		{args: []string{"help"}, wantCode: 0, wantOut: "Commands:"},
		{args: []string{"frobnicate"}, wantCode: 2, wantOut: `unknown command "frobnicate"`},
		{args: []string{"controller", "--no-such-flag"}, wantCode: 1, wantOut: "flag provided but not defined: -no-such-flag"},
		{args: []string{"streamer", "extra"}, wantCode: 1, wantOut: `unexpected arguments ["extra"]`},
		{args: []string{"controller", "--leader-elect", "--leader-elect-renew-deadline", "20s"}, wantCode: 1, wantOut: "renew deadline (20s) < lease duration (15s)"},
		{args: []string{"controller", "--leader-elect", "--leader-elect-retry-period", "9s"}, wantCode: 1, wantOut: "1.2 × retry period (9s) < renew deadline (10s)"},
		{args: []string{"controller", "--max-concurrent-status-writes", "0"}, wantCode: 1, wantOut: "--max-concurrent-status-writes must be at least 1, not 0"},
		{args: []string{"controller", "-h"}, wantCode: 0, wantOut: "-max-concurrent-status-writes"},
		{args: []string{"controller", "-h"}, wantCode: 0, wantOut: "-leader-elect-lease-duration"},
		{args: []string{"controller", "-h"}, wantCode: 0, wantOut: "-pprof-bind-address"},
		{args: []string{"watch", "-o", "yaml"}, wantCode: 2, wantOut: "yaml"},
		{args: []string{"version"}, wantCode: 0, wantOut: "cast-operator "},
		{args: []string{"--version"}, wantCode: 0, wantOut: "cast-operator "},
		{args: []string{"version", "-o", "json"}, wantCode: 0, wantOut: `"goVersion":"go1.`},
		{args: []string{"version", "-o", "yaml"}, wantCode: 1, wantOut: `-o "yaml": want text or json`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			code := run(tt.args, &out, &out)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output does not contain %q:\n%s", tt.wantOut, out.String())
			}
		})
	}
}

// TestProductionBinaryLinksNoTestMachinery keeps envtest and hack/ (the
// local control plane `make run` and the tests start) out of the binary
// that `make build` and the image ship. The dev build, which must link
// them, is listed too, so the check is known to see them when present.
func TestProductionBinaryLinksNoTestMachinery(t *testing.T) {
	const envtest = "sigs.k8s.io/controller-runtime/pkg/envtest"
	const hack = "github.com/spell-platform/cast-operator/hack"
	forbidden := func(pkg string) bool {
		return pkg == envtest || strings.HasPrefix(pkg, envtest+"/") || pkg == hack || strings.HasPrefix(pkg, hack+"/")
	}
	// -tags= overrides any tags GOFLAGS sets: this is the plain build.
	for _, pkg := range listDeps(t, "-tags=") {
		if forbidden(pkg) {
			t.Errorf("the production binary depends on %s", pkg)
		}
	}
	var seen []string
	for _, pkg := range listDeps(t, "-tags=dev") {
		if forbidden(pkg) {
			seen = append(seen, pkg)
		}
	}
	if !strings.Contains(strings.Join(seen, " "), envtest) || !strings.Contains(strings.Join(seen, " "), hack+"/localcluster") {
		t.Errorf("the dev build's dependencies lack envtest or hack/localcluster (found %q): the check above would not see them either", seen)
	}
}

// listDeps is `go list -deps` of this package, the binary's main package.
func listDeps(t *testing.T, tags string) []string {
	t.Helper()
	out, err := exec.Command(goTool(), "list", tags, "-deps", ".").Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go list %s -deps .: %v\n%s", tags, err, stderr)
	}
	return strings.Fields(string(out))
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	//nolint:staticcheck // the test binary runs where it was built, so its GOROOT is the toolchain running the tests
	if tool := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(tool) {
		return tool
	}
	return "go"
}

func fileExists(path string) bool {
	_, err := exec.LookPath(path)
	return err == nil
}
