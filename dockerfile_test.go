package main

import (
	"os"
	"path"
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
