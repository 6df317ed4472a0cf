package jsclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/npmtest"
)

// The npm package is released with the operator: its version is VERSION's.
func TestPackageVersionIsTheRelease(t *testing.T) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != strings.TrimSpace(string(want)) {
		t.Errorf("package.json version %q, VERSION %q: bump them together", m.Version, strings.TrimSpace(string(want)))
	}
	if m.Name != "@spell-platform/cast-client" {
		t.Errorf("package name %q changed: users import it by name", m.Name)
	}
}

func get(t *testing.T, h http.Handler, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Result(), string(b)
}

func TestHandlerServesThePackagesFiles(t *testing.T) {
	h := Handler()
	for path, want := range map[string]struct{ contentType, types, start string }{
		"/js/v1/cast-client.js":   {"text/javascript; charset=utf-8", "./cast-client.d.ts", "// @spell-platform/cast-client"},
		"/js/v1/react.js":         {"text/javascript; charset=utf-8", "./react.d.ts", "// useCastEvents"},
		"/js/v1/http.js":          {"text/javascript; charset=utf-8", "", "// The streamer's JSON API"},
		"/js/v1/tracker.js":       {"text/javascript; charset=utf-8", "", "// The delivery rules"},
		"/js/v1/cast-client.d.ts": {"application/typescript; charset=utf-8", "", "// Types of @spell-platform/cast-client"},
		"/js/v1/react.d.ts":       {"application/typescript; charset=utf-8", "", "// Types of @spell-platform/cast-client/react"},
		"/js/v1/package.json":     {"application/json; charset=utf-8", "", "{"},
	} {
		resp, body := get(t, h, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, want.start) {
			t.Errorf("GET %s = %d %.40q, want 200 starting %q", path, resp.StatusCode, body, want.start)
			continue
		}
		hdr := resp.Header
		if hdr.Get("Content-Type") != want.contentType || hdr.Get("X-TypeScript-Types") != want.types {
			t.Errorf("GET %s: Content-Type %q X-TypeScript-Types %q, want %q %q", path,
				hdr.Get("Content-Type"), hdr.Get("X-TypeScript-Types"), want.contentType, want.types)
		}
		if hdr.Get("Cache-Control") != "no-cache" || hdr.Get("ETag") == "" || hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: Cache-Control %q ETag %q nosniff %q: want revalidation by ETag", path,
				hdr.Get("Cache-Control"), hdr.Get("ETag"), hdr.Get("X-Content-Type-Options"))
		}
		again, _ := get(t, h, http.MethodGet, path, http.Header{"If-None-Match": {hdr.Get("ETag")}})
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d, want 304", path, again.StatusCode)
		}
	}
	for _, path := range []string{"/js/v1/", "/js/v1/jsclient.go", "/js/v1/testdata/tracker.test.mjs", "/js/v1/../v1/react.js", "/js/v2/react.js"} {
		if resp, _ := get(t, h, http.MethodGet, path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, h, http.MethodPost, "/js/v1/react.js", nil); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d (Allow %q), want 405 with Allow: GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// What `make js-client` packs is what the streamer serves, plus the README.
func TestNPMPacksTheServedFiles(t *testing.T) {
	npm := lookPath(t, "npm")
	out, err := exec.Command(npm, "pack", "--dry-run", "--json", "--ignore-scripts").Output()
	if err != nil {
		t.Fatalf("npm pack --dry-run: %v", err)
	}
	var packs []struct {
		Name, Version string
		Files         []struct{ Path string }
	}
	if err := json.Unmarshal(out, &packs); err != nil || len(packs) != 1 {
		t.Fatalf("npm pack --json printed %s (%v)", out, err)
	}
	var got []string
	for _, f := range packs[0].Files {
		got = append(got, f.Path)
	}
	m, err := ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"README.md", "package.json"}, m.Files...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("npm packs %v, want %v", got, want)
	}
	if packs[0].Name != m.Name || packs[0].Version != m.Version {
		t.Errorf("npm packs %s@%s, want %s@%s", packs[0].Name, packs[0].Version, m.Name, m.Version)
	}
}

// The delivery rules (testdata/tracker.test.mjs) run in Node, the same
// JavaScript engine as Chromium's.
func TestTrackerRules(t *testing.T) {
	node := lookPath(t, "node")
	out, err := exec.Command(node, "--test", "testdata/tracker.test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test testdata/tracker.test.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# fail 0") || strings.Contains(string(out), "# pass 0") {
		t.Errorf("node ran no passing tests:\n%s", out)
	}
}

// The .d.ts files check the example page (docs/examples/cast-board) with
// tsc, resolving the package by its name and exports as a bundler would;
// types_check.ts holds misuses the types must refuse.
func TestTypesCheckTheExample(t *testing.T) {
	modules, err := npmtest.Install(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nm := filepath.Join(dir, "node_modules")
	if err := os.MkdirAll(filepath.Join(nm, "@spell-platform"), 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(modules)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(modules, e.Name()), filepath.Join(nm, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(pkg, filepath.Join(nm, "@spell-platform", "cast-client")); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(root, "docs", "examples", "cast-board", "app.js"), filepath.Join(dir, "app.js"))
	copyFile(t, filepath.Join("testdata", "types_check.ts"), filepath.Join(dir, "types_check.ts"))
	tsconfig := `{"compilerOptions": {"target": "es2022", "module": "esnext", "moduleResolution": "bundler",
  "lib": ["es2022", "dom", "dom.iterable"], "allowJs": true, "checkJs": true, "strict": true, "noEmit": true,
  "types": []}, "files": ["app.js", "types_check.ts"]}`
	if err := os.WriteFile(filepath.Join(dir, "tsconfig.json"), []byte(tsconfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lookPath(t, "node"), filepath.Join(nm, "typescript", "bin", "tsc"), "-p", dir, "--pretty", "false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc --noEmit: %v\n%s", err, out)
	}
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("the JavaScript client's tests need %s on PATH (install Node.js and npm): %v", name, err)
	}
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The module runs inside the dashboard's strict Content-Security-Policy
// and in other teams' pages: no eval, no HTML injection, no storage of
// its own, no hosts of its own, and files small enough to read.
func TestModuleStaysSafeForStrictPages(t *testing.T) {
	m, err := ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range m.Files {
		b, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, banned := range []string{"eval(", "new Function", "innerHTML", "localStorage", "sessionStorage", "document.cookie", "http://", "https://"} {
			if strings.Contains(text, banned) {
				t.Errorf("%s uses %s", name, banned)
			}
		}
		if lines := strings.Count(text, "\n"); lines > 400 {
			t.Errorf("%s has %d lines; keep the files small and readable", name, lines)
		}
	}
}
