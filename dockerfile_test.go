package main

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
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

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct{ cmd, args string }

// finalStage parses the Dockerfile's last stage, the image that ships:
// its instructions from its FROM on, without comments.
func finalStage(t *testing.T, dockerfile string) []instruction {
	t.Helper()
	var stage []instruction
	var cur string
	for _, line := range strings.Split(dockerfile, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur += more + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		cur = ""
		if cmd = strings.ToUpper(cmd); cmd == "FROM" {
			stage = nil
		}
		stage = append(stage, instruction{cmd, strings.TrimSpace(args)})
	}
	return stage
}

// labels parses LABEL arguments: key=value pairs, values quoted or not.
func labels(t *testing.T, args string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for args = strings.TrimSpace(args); args != ""; args = strings.TrimSpace(args) {
		k, rest, ok := strings.Cut(args, "=")
		if !ok || strings.ContainsAny(k, " \t") {
			t.Fatalf("LABEL %q: want key=value pairs", args)
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && (rest[end] != '"' || rest[end-1] == '\\') {
				end++
			}
			if end == len(rest) {
				t.Fatalf("LABEL %s: unterminated quote", k)
			}
			var err error
			if v, err = strconv.Unquote(rest[:end+1]); err != nil {
				t.Fatalf("LABEL %s: %v", k, err)
			}
			rest = rest[end+1:]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		out[k] = v
		args = rest
	}
	return out
}

// TestImageLabelsNameTheRelease holds the shipped image's OCI labels to
// the build: the version and revision labels expand the VERSION and
// REVISION build args, which the final stage declares itself (an ARG is
// scoped to its stage, so one declared only in the builder would leave
// them empty), and `make docker-build` passes both.
func TestImageLabelsNameTheRelease(t *testing.T) {
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]bool{}
	got := map[string]string{}
	for _, in := range finalStage(t, string(dockerfile)) {
		switch in.cmd {
		case "ARG":
			name, _, _ := strings.Cut(in.args, "=")
			args[name] = true
		case "LABEL":
			for k, v := range labels(t, in.args) {
				got[k] = v
			}
		}
	}
	for label, arg := range map[string]string{
		"org.opencontainers.image.version":  "VERSION",
		"org.opencontainers.image.revision": "REVISION",
	} {
		if v := got[label]; v != "${"+arg+"}" && v != "$"+arg {
			t.Errorf("the image's label %s is %q, want the build arg ${%s}", label, v, arg)
		}
		if !args[arg] {
			t.Errorf("the Dockerfile's final stage does not declare ARG %s, so its label %s would be empty", arg, label)
		}
	}
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var build string
	for _, line := range strings.Split(string(makefile), "\n") {
		if strings.Contains(line, "docker build ") {
			build = line
		}
	}
	for _, arg := range []string{"--build-arg VERSION=$(VERSION)", "--build-arg REVISION="} {
		if !strings.Contains(build, arg) {
			t.Errorf("make docker-build's %q does not pass %s", strings.TrimSpace(build), arg)
		}
	}
}
