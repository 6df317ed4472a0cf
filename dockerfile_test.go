package main

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerfileCopiesTheBinarysPackages holds the builder stage's COPY
// lines against `go list -deps .`: every package of this module that the
// binary links is copied (or the image build fails), and every copied
// directory holds one of them (so hack/ or test support cannot creep back).
func TestDockerfileCopiesTheBinarysPackages(t *testing.T) {
	const module = "github.com/spell-platform/cast-operator"
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var copied []string
	stages := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "FROM" {
			if stages++; stages > 1 {
				break // only the builder stage compiles
			}
		}
		if len(f) < 3 || f[0] != "COPY" || strings.HasPrefix(f[1], "--") {
			continue
		}
		for _, src := range f[1 : len(f)-1] {
			if src != "go.mod" && src != "go.sum" {
				copied = append(copied, strings.TrimSuffix(src, "/"))
			}
		}
	}
	// Each of the module's packages as a directory relative to the root.
	var dirs []string
	for _, pkg := range listDeps(t, "-tags=") {
		if pkg == module {
			dirs = append(dirs, ".")
		} else if rel, ok := strings.CutPrefix(pkg, module+"/"); ok {
			dirs = append(dirs, rel)
		}
	}
	covers := func(src, dir string) bool {
		if dir == "." {
			return src == "main.go" || src == "*.go"
		}
		return dir == src || strings.HasPrefix(dir, src+"/")
	}
	for _, dir := range dirs {
		ok := false
		for _, src := range copied {
			ok = ok || covers(src, dir)
		}
		if !ok {
			t.Errorf("the Dockerfile does not copy %s, which the binary links", dir)
		}
	}
	for _, src := range copied {
		used := false
		for _, dir := range dirs {
			used = used || covers(src, dir)
		}
		if !used || path.Clean(src) == "hack" || strings.HasPrefix(src, "hack/") {
			t.Errorf("the Dockerfile copies %s, which the production binary does not link", src)
		}
	}
}

// TestReleaseBuildsStampTheVersion builds the binary with the Makefile's
// LDFLAGS, as `make build` does, and asks it what it is: the linker flag
// must name a variable that exists (a wrong -X path is silently ignored),
// and the Dockerfile must stamp the same release.
func TestReleaseBuildsStampTheVersion(t *testing.T) {
	raw, err := os.ReadFile("VERSION")
	if err != nil {
		t.Fatal(err)
	}
	release := strings.TrimSpace(string(raw))
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var ldflags string
	for _, line := range strings.Split(string(makefile), "\n") {
		if v, ok := strings.CutPrefix(line, "LDFLAGS ?= "); ok {
			ldflags = strings.ReplaceAll(v, "$(VERSION)", release)
		}
	}
	if ldflags == "" {
		t.Fatal("the Makefile sets no LDFLAGS")
	}
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(dockerfile), "ARG VERSION="+release+"\n"); n != 2 {
		t.Errorf("the Dockerfile's two stages should default ARG VERSION to %s (the VERSION file); found %d", release, n)
	}
	for _, f := range strings.Fields(ldflags) {
		if strings.Contains(f, "=") && !strings.Contains(string(dockerfile), strings.ReplaceAll(f, release, "${VERSION}")) {
			t.Errorf("the Dockerfile's build lacks the Makefile's linker flag %s", f)
		}
	}
	bin := filepath.Join(t.TempDir(), "cast-operator")
	build := exec.Command(goTool(), "build", "-trimpath", "-ldflags", ldflags+" -X github.com/spell-platform/cast-operator/internal/version.commit=0123abc", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("cast-operator --version: %v", err)
	}
	if want := "cast-operator " + release + " (commit 0123abc"; !strings.HasPrefix(string(out), want) {
		t.Errorf("cast-operator --version printed %q, want it to start with %q", out, want)
	}
}
