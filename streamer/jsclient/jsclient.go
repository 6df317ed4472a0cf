// Package jsclient is the browser client of the streamer, the npm package
// @spell-platform/cast-client: an ES module with TypeScript types and a
// React hook. The streamer serves it at Prefix, so a page (the built-in
// dashboard, or a team's own on another origin allowed by
// --allowed-origins) imports the very code that matches the streamer it
// talks to, without a build step or a registry; `make js-client` packs the
// same files for npm.
package jsclient

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the streamer serves the package's files. The v1 is the
// module's API: it changes only with an incompatible release, so pages
// can hard-code it.
const Prefix = "/js/v1/"

//go:embed package.json *.js *.d.ts
var files embed.FS

// contentTypes is fixed here rather than taken from the system's MIME
// tables, which differ between machines (.js and .ts especially).
var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".ts":   "application/typescript; charset=utf-8",
	".json": "application/json; charset=utf-8",
}

type file struct {
	body        []byte
	contentType string
	etag        string
	types       string // the .d.ts beside a .js, for X-TypeScript-Types
}

type handler struct {
	files map[string]file
}

// Manifest is what the package.json says about the package; the same
// fields npm reads.
type Manifest struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Files   []string `json:"files"`
}

// ReadManifest returns the embedded package.json.
func ReadManifest() (Manifest, error) {
	var m Manifest
	b, err := files.ReadFile("package.json")
	if err != nil {
		return m, fmt.Errorf("reading the embedded package.json: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("parsing the embedded package.json: %w", err)
	}
	return m, nil
}

// Handler serves the files package.json lists (those npm packs) and
// package.json itself below Prefix; every other path is a 404. CORS is the
// streamer's (--allowed-origins), as for its API: a page on an allowed
// origin may import the module.
func Handler() http.Handler {
	m, err := ReadManifest()
	if err != nil {
		// The files are compiled in: this fails in development, not in use.
		panic(err.Error())
	}
	h := &handler{files: map[string]file{}}
	for _, name := range append([]string{"package.json"}, m.Files...) {
		body, err := files.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("package.json lists %s, which is not embedded: %v", name, err))
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			panic(fmt.Sprintf("%s has no known content type", name))
		}
		sum := sha256.Sum256(body)
		f := file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if types := strings.TrimSuffix(name, ".js") + ".d.ts"; strings.HasSuffix(name, ".js") {
			if _, err := files.ReadFile(types); err == nil {
				f.types = "./" + types
			}
		}
		h.files[name] = f
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	f, found := h.files[name]
	if !ok || !found {
		http.Error(w, "not found: the client's files are "+Prefix+"cast-client.js, react.js and their .d.ts", http.StatusNotFound)
		return
	}
	// The path stays the same across releases of v1, so caches revalidate
	// every time; the ETag makes that a 304 until the streamer is upgraded.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	if f.types != "" {
		hdr.Set("X-TypeScript-Types", f.types)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
