package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/npmtest"
)

// ---- what the streamer sent, as the proxy saw it ----

// wireEvent is one SSE event on a stream, read off the wire between the
// streamer and the browser.
type wireEvent struct {
	Type, ID, CastID string
}

// wireTap copies a stream's bytes through and records its events.
type wireTap struct {
	http.ResponseWriter
	record func(wireEvent)
	line   []byte
	ev     wireEvent
}

func (t *wireTap) Write(p []byte) (int, error) {
	for _, c := range p {
		if c != '\n' {
			t.line = append(t.line, c)
			continue
		}
		line := string(t.line)
		t.line = t.line[:0]
		switch {
		case line == "":
			if t.ev.Type != "" {
				t.record(t.ev)
			}
			t.ev = wireEvent{}
		case strings.HasPrefix(line, "event: "):
			t.ev.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			t.ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			var d struct {
				CastID string `json:"castId"`
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d) == nil {
				t.ev.CastID = d.CastID
			}
		}
	}
	return t.ResponseWriter.Write(p)
}

func (t *wireTap) Flush() { _ = http.NewResponseController(t.ResponseWriter).Flush() }

func (t *wireTap) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (f *frontServer) tap(path string, w http.ResponseWriter) http.ResponseWriter {
	return &wireTap{ResponseWriter: w, record: func(e wireEvent) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.wire[path] = append(f.wire[path], e)
	}}
}

// wireEvents are the events sent on path's streams so far.
func (f *frontServer) wireEvents(path string) []wireEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wireEvent(nil), f.wire[path]...)
}

// ---- a page on another origin ----

// appOrigin serves a team's own pages, on an origin of its own: a blank
// page to import the client into, the example board (docs/examples) with
// React from npm, and React's browser builds.
type appOrigin struct {
	url string
}

// reactShims make React's browser (UMD) builds importable by the names a
// bundler would resolve.
const (
	reactShim = `const R = window.React;
export default R;
export const { StrictMode, Fragment, createElement, useEffect, useRef, useState, useMemo, useCallback } = R;
`
	reactDOMShim = `export const { createRoot, hydrateRoot } = window.ReactDOM;
`
)

// startAppOrigin listens first, so the streamer can be told the origin
// (--allowed-origins) before it starts; serve starts serving.
func startAppOrigin() (*appOrigin, func(streamerURL string)) {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	a := &appOrigin{url: "http://" + ln.Addr().String()}
	serve := func(streamerURL string) {
		GinkgoHelper()
		modules, err := npmtest.Install(context.Background())
		Expect(err).NotTo(HaveOccurred())
		root, err := localcluster.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		file := func(path, contentType string) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				b, err := os.ReadFile(path)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", contentType)
				_, _ = w.Write(b)
			}
		}
		text := func(body, contentType string) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", contentType)
				_, _ = w.Write([]byte(body))
			}
		}
		const js = "text/javascript; charset=utf-8"
		mux := http.NewServeMux()
		mux.Handle("GET /{$}", text(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>app</title></head><body></body></html>`, "text/html; charset=utf-8"))
		mux.Handle("GET /board.html", text(boardPage(streamerURL), "text/html; charset=utf-8"))
		mux.Handle("GET /app.js", file(filepath.Join(root, "docs", "examples", "cast-board", "app.js"), js))
		mux.Handle("GET /vendor/react.js", file(filepath.Join(modules, "react", "umd", "react.production.min.js"), js))
		mux.Handle("GET /vendor/react-dom.js", file(filepath.Join(modules, "react-dom", "umd", "react-dom.production.min.js"), js))
		mux.Handle("GET /vendor/react.mjs", text(reactShim, js))
		mux.Handle("GET /vendor/react-dom-client.mjs", text(reactDOMShim, js))
		mux.Handle("GET /favicon.ico", http.NotFoundHandler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		DeferCleanup(func() { _ = srv.Close() })
	}
	return a, serve
}

// boardPage is docs/examples/cast-board/index.html with its import map
// pointing at the streamer under test and the React of the npm install.
func boardPage(streamerURL string) string {
	imports, _ := json.Marshal(map[string]any{"imports": map[string]string{
		"react":                             "/vendor/react.mjs",
		"react-dom/client":                  "/vendor/react-dom-client.mjs",
		"@spell-platform/cast-client":       streamerURL + "/js/v1/cast-client.js",
		"@spell-platform/cast-client/react": streamerURL + "/js/v1/react.js",
	}})
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cast board</title>
<script src="/vendor/react.js"></script><script src="/vendor/react-dom.js"></script>
<script type="importmap">` + string(imports) + `</script>
<script type="module" src="/app.js"></script></head><body><div id="root"></div></body></html>`
}

// ---- the client in the page ----

// clientRecorder subscribes with every handler recording what it is told
// into window.__log[name]; the subscription is window.__subs[name].
const clientRecorder = `window.__log = {}; window.__subs = {};
window.__record = (name, opts) => {
  const log = (window.__log[name] = []);
  const cast = (t) => (c, m) => log.push({ t, castId: c.castId, status: c.status, progress: c.progress, message: c.message, id: m.id, synthetic: m.synthetic });
  window.__subs[name] = window.cc.subscribe(opts, {
    onStatus: cast('status'), onProgress: cast('progress'), onComplete: cast('complete'), onDeleted: cast('deleted'),
    onSynced: (resumed) => log.push({ t: 'synced', resumed }),
    onError: (e) => log.push({ t: 'error', code: e.code, httpStatus: e.status, message: e.message, retryAfter: e.retryAfter, streams: e.streams ?? null, isApiError: e instanceof window.cc.ApiError }),
    onConnectionChange: (s, info) => log.push({ t: 'state', state: s, reason: info.reason ?? '' }),
  });
  return null;
};`

// logEntry is one handler call the recorder saw.
type logEntry struct {
	T          string         `json:"t"`
	CastID     string         `json:"castId"`
	Status     string         `json:"status"`
	Progress   float64        `json:"progress"`
	Message    string         `json:"message"`
	ID         string         `json:"id"`
	Synthetic  bool           `json:"synthetic"`
	Resumed    bool           `json:"resumed"`
	Code       string         `json:"code"`
	HTTPStatus int            `json:"httpStatus"`
	RetryAfter int            `json:"retryAfter"`
	Streams    map[string]any `json:"streams"`
	IsAPIError bool           `json:"isApiError"`
	State      string         `json:"state"`
	Reason     string         `json:"reason"`
}

// openClientPage opens the app origin's blank page and imports the client
// from the streamer at streamerURL into it as window.cc.
func openClientPage(app *appOrigin, streamerURL string, before ...string) *browser {
	GinkgoHelper()
	b := openBrowser(before...)
	b.do(chromedp.Navigate(app.url + "/"))
	mustEval[any](b, fmt.Sprintf(`import(%q).then((m) => { window.cc = m; return null; })`, streamerURL+"/js/v1/cast-client.js"))
	mustEval[any](b, clientRecorder+`; null`)
	return b
}

// record starts a recorded subscription with opts (a JS object literal).
func (b *browser) record(name, opts string) {
	GinkgoHelper()
	mustEval[any](b, fmt.Sprintf(`window.__record(%q, %s)`, name, opts))
}

// log returns what name's handlers were told.
func (b *browser) log(name string) func() ([]logEntry, error) {
	return func() ([]logEntry, error) {
		return eval[[]logEntry](b, fmt.Sprintf(`window.__log[%q]`, name))
	}
}

// subState is the live state of name's subscription.
func (b *browser) subState(name string) func() (string, error) {
	return func() (string, error) { return eval[string](b, fmt.Sprintf(`window.__subs[%q].state`, name)) }
}

// of keeps the entries of type t.
func of(t string, log []logEntry) []logEntry {
	var out []logEntry
	for _, e := range log {
		if e.T == t {
			out = append(out, e)
		}
	}
	return out
}

// jsString quotes s for a JS expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(bytes.TrimSpace(b))
}
