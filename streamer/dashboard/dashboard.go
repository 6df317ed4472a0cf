// Package dashboard is the streamer's web page: a sign-in form, a live list
// of Casts and a detail view, fed by the streamer's own SSE and JSON
// endpoints on the same origin. It is plain HTML, CSS and ES modules
// embedded in the binary: no build step, no external fonts, scripts or
// trackers, so it works offline and under a strict Content-Security-Policy.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assetFS embed.FS

// ContentSecurityPolicy is sent with every response: scripts and styles only
// from files on this origin (no inline code, no eval), network access only
// back to the streamer, and no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes is fixed here rather than taken from the system's MIME
// tables, which differ between machines (.js especially).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the embedded files; they are read once, at start.
type handler struct {
	index  asset
	assets map[string]asset // by path below /assets/
}

// Handler serves the dashboard: index.html at "/" and the static files at
// "/assets/...". Every other path is a 404, so it can be mounted at "GET /"
// beside the API without hiding typos in API paths behind a page.
func Handler() http.Handler {
	h := &handler{assets: map[string]asset{}}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("dashboard asset %s has no known content type", p)
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		h.assets[strings.TrimPrefix(p, "assets/")] = a
		return nil
	})
	if err != nil {
		// The files are compiled in: this fails in development, not in use.
		panic(fmt.Sprintf("loading the embedded dashboard: %v", err))
	}
	var ok bool
	if h.index, ok = h.assets["index.html"]; !ok {
		panic("the embedded dashboard has no index.html")
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	var a asset
	switch name, isAsset := strings.CutPrefix(r.URL.Path, "/assets/"); {
	case r.URL.Path == "/":
		a = h.index
	case isAsset && name != "index.html":
		var ok bool
		if a, ok = h.assets[name]; !ok {
			plain(w, http.StatusNotFound, "not found")
			return
		}
	default:
		plain(w, http.StatusNotFound, "not found")
		return
	}
	// The file names carry no version, so browsers revalidate every time;
	// the ETag makes that a 304 until the binary changes.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}
