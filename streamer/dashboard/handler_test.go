package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIndexIsHTMLWithStrictHeaders(t *testing.T) {
	resp := get(t, Handler(), http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", resp.StatusCode)
	}
	want := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-cache",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": ContentSecurityPolicy,
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, directive) {
			t.Errorf("CSP %q lacks %q", csp, directive)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code or eval", csp)
	}
	if b := body(t, resp); !strings.Contains(b, `<script type="module" src="assets/app.js"></script>`) {
		t.Errorf("index.html does not load assets/app.js as a module:\n%s", b)
	}
}

func TestAssetsHaveTheirContentTypes(t *testing.T) {
	h := Handler()
	for path, ct := range map[string]string{
		"/assets/app.js":      "text/javascript; charset=utf-8",
		"/assets/api.js":      "text/javascript; charset=utf-8",
		"/assets/style.css":   "text/css; charset=utf-8",
		"/assets/favicon.svg": "image/svg+xml",
	} {
		resp := get(t, h, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != ct {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, ct)
		}
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s lacks the security headers", path)
		}
	}
}

func TestRevalidatesWithETag(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/assets/app.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(t, h, http.MethodGet, "/assets/app.js", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", again.StatusCode)
	}
	head := get(t, h, http.MethodHead, "/", nil)
	if head.StatusCode != http.StatusOK || body(t, head) != "" {
		t.Errorf("HEAD / = %d with a body", head.StatusCode)
	}
}

func TestUnknownPathsAre404AndOtherMethods405(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/assets/nope.js", "/assets/", "/assets/index.html", "/index.html", "/api/v1/typo", "/assets/../dashboard.go"} {
		if resp := get(t, h, http.MethodGet, path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	resp := get(t, h, http.MethodPost, "/", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d (Allow %q), want 405 with Allow: GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// The page must run under script-src 'self': no inline scripts, no inline
// event handlers, no inline styles.
func TestIndexHasNoInlineCode(t *testing.T) {
	html := readAsset(t, "index.html")
	for _, m := range regexp.MustCompile(`(?is)<script\b[^>]*>(.*?)</script>`).FindAllStringSubmatch(html, -1) {
		if !strings.Contains(m[0], ` src="`) || strings.TrimSpace(m[1]) != "" {
			t.Errorf("inline script block in index.html: %s", m[0])
		}
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+\s*=`).FindString(html); m != "" {
		t.Errorf("inline event handler %q in index.html", m)
	}
	if strings.Contains(strings.ToLower(html), "<style") || regexp.MustCompile(`(?i)\sstyle\s*=`).MatchString(html) {
		t.Error("inline style in index.html: style-src 'self' would block it")
	}
}

// The dashboard must work offline and load nothing from elsewhere: no
// absolute URLs in any asset. The SVG namespace is a name, never fetched.
func TestAssetsReferNoExternalURLs(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(b), `xmlns="http://www.w3.org/2000/svg"`, "")
		if strings.Contains(text, "http://") || strings.Contains(text, "https://") {
			t.Errorf("%s refers to an absolute http(s) URL", p)
		}
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers to another host: %q", p, m)
		}
		for _, banned := range []string{"localStorage", "sessionStorage", "document.cookie", "innerHTML", "eval("} {
			if strings.Contains(text, banned) {
				t.Errorf("%s uses %s", p, banned)
			}
		}
		if lines := strings.Count(text, "\n"); lines > 400 {
			t.Errorf("%s has %d lines; keep assets small and readable", p, lines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readAsset(t *testing.T, name string) string {
	t.Helper()
	b, err := assetFS.ReadFile("assets/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
