package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/dashboard"
)

// ---- the streamer, which the specs stop and start again ----

type streamerProc struct {
	url    *url.URL
	cancel context.CancelFunc
	done   chan error
}

// startStreamer runs a real streamer on a loopback port, ready to serve;
// tune changes its options (short intervals by default).
func startStreamer(tune ...func(*streamer.Options)) *streamerProc {
	GinkgoHelper()
	return serveStreamer(listenLoopback(), tune...)
}

// listenLoopback is a listener on a free loopback port, for a streamer
// whose options need its URL before it starts.
func listenLoopback() net.Listener {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	return ln
}

// serveStreamer is startStreamer on ln.
func serveStreamer(ln net.Listener, tune ...func(*streamer.Options)) *streamerProc {
	GinkgoHelper()
	opts := streamer.Options{Retry: 500 * time.Millisecond, HeartbeatInterval: time.Second}
	for _, t := range tune {
		t(&opts)
	}
	srv, err := streamer.New(opts, castCache, kube)
	if err != nil {
		_ = ln.Close()
	}
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(logf.IntoContext(context.Background(), logf.Log))
	p := &streamerProc{url: &url.URL{Scheme: "http", Host: ln.Addr().String()}, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- srv.Serve(ctx, ln) }()
	DeferCleanup(p.stop)
	Eventually(func() (int, error) {
		resp, err := http.Get(p.url.String() + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}).Should(Equal(http.StatusOK), "the streamer must become ready")
	return p
}

// stop ends the streamer as its manager would: open streams end, the
// listener closes. Safe to call twice.
func (p *streamerProc) stop() {
	GinkgoHelper()
	p.cancel()
	select {
	case err := <-p.done:
		Expect(err).NotTo(HaveOccurred())
		p.done <- nil
	case <-time.After(20 * time.Second):
		Fail("the streamer did not stop within 20s")
	}
}

// ---- one origin: the dashboard, and the streamer behind a reverse proxy ----

type frontServer struct {
	url    string
	target atomic.Pointer[url.URL]
	held   atomic.Pointer[chan struct{}]
	mu     sync.Mutex
	hits   map[string]int
	// refusals answer the next API reads in the proxy's stead.
	refusals int
	refusal  func(http.ResponseWriter)
	streams  map[*http.Request]context.CancelFunc
	// lastEventIDs are the Last-Event-ID headers of stream requests, by path.
	lastEventIDs map[string][]string
	// wire holds the events the streamer sent on streams, by path.
	wire map[string][]wireEvent
}

// startFront serves dashboard.Handler() and proxies the streamer's paths to
// backend, as one origin, the way the streamer will serve both itself.
func startFront(backend *streamerProc) *frontServer {
	GinkgoHelper()
	f := &frontServer{hits: map[string]int{}, lastEventIDs: map[string][]string{}, wire: map[string][]wireEvent{},
		streams: map[*http.Request]context.CancelFunc{}}
	f.target.Store(backend.url)
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(f.target.Load()) },
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "streamer unavailable: "+err.Error(), http.StatusBadGateway)
		},
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits[r.Method+" "+r.URL.Path]++
		stream := strings.HasSuffix(r.URL.Path, "/events")
		if stream {
			f.lastEventIDs[r.URL.Path] = append(f.lastEventIDs[r.URL.Path], r.Header.Get("Last-Event-ID"))
		}
		var refuse func(http.ResponseWriter)
		if f.refusals > 0 && r.Method == http.MethodGet && r.URL.Path != "/api/v1/session" {
			f.refusals--
			refuse = f.refusal
		}
		if stream {
			ctx, cancel := context.WithCancel(r.Context())
			r = r.WithContext(ctx)
			f.streams[r] = cancel
			defer func(r *http.Request) {
				f.mu.Lock()
				delete(f.streams, r)
				f.mu.Unlock()
				cancel()
			}(r)
		}
		f.mu.Unlock()
		if refuse != nil {
			// As the streamer would for the origin it allows: a page on
			// another origin must be able to read the refusal.
			if origin := r.Header.Get("Origin"); origin != "" {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
			}
			refuse(w)
			return
		}
		if held := f.held.Load(); held != nil {
			select {
			case <-*held:
			case <-r.Context().Done():
				return
			case <-time.After(30 * time.Second):
				http.Error(w, "held too long", http.StatusGatewayTimeout)
				return
			}
		}
		if stream {
			w = f.tap(r.URL.Path, w)
		}
		proxy.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/healthz", proxy)
	mux.Handle("/readyz", proxy)
	// The browser client the dashboard imports, from the streamer itself.
	mux.Handle("/js/", proxy)
	mux.Handle("/", dashboard.Handler())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	DeferCleanup(func() { _ = srv.Close() })
	f.url = "http://" + ln.Addr().String()
	return f
}

func (f *frontServer) pointAt(p *streamerProc) { f.target.Store(p.url) }

// hold makes API requests wait, as a load balancer does while no backend is
// ready, until release.
func (f *frontServer) hold() {
	ch := make(chan struct{})
	f.held.Store(&ch)
}

func (f *frontServer) release() {
	if held := f.held.Swap(nil); held != nil {
		close(*held)
	}
}

// refuse429 answers the next n API reads with the streamer's 429.
func (f *frontServer) refuse429(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refusals = n
	f.refusal = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "rate limit exceeded; retry in "+retryAfter+"s", http.StatusTooManyRequests)
	}
}

// dropStreams cuts every open stream, as a network blip would.
func (f *frontServer) dropStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, cancel := range f.streams {
		cancel()
	}
}

// streamResumes are the Last-Event-ID headers sent to a stream path.
func (f *frontServer) streamResumes(path string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lastEventIDs[path]...)
}

// requests counts the API requests for method and path so far.
func (f *frontServer) requests(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[method+" "+path]
}

// ---- the browser ----

type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

// watchProblems is injected before any page script: it records CSP
// violations, which the page would otherwise only log.
const watchProblems = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`

// openBrowser starts a headless chromium of its own (fresh profile, no
// cookies) for one spec. before runs in every new document first.
func openBrowser(before ...string) *browser {
	GinkgoHelper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,InterestFeedContentSuggestions"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(GinkgoT().TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(GinkgoWriter),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	DeferCleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &browser{ctx: ctx}

	// The first Run starts the browser and lives as long as it: bound it
	// from outside rather than with a context deadline.
	started := make(chan error, 1)
	go func() {
		started <- chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			for _, src := range append([]string{watchProblems}, before...) {
				if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
					return err
				}
			}
			if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"}); err != nil {
				return err
			}
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{
				{Name: "prefers-color-scheme", Value: "light"}, {Name: "prefers-reduced-motion", Value: "reduce"},
			}})
			return err
		}))
	}()
	select {
	case err := <-started:
		Expect(err).NotTo(HaveOccurred(), "starting %s", chromiumPath)
	case <-time.After(60 * time.Second):
		cancelCtx()
		Fail("chromium did not start within 60s")
	}

	// Uncaught exceptions, console errors and security messages fail the spec.
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			_, _ = fmt.Fprintf(GinkgoWriter, "browser console: %s (%s %s:%d)\n", m, m.Source, m.URL, m.Line)
			if m.IsException() || (m.Source == "" && m.Type == chromedp.ConsoleError) || m.Source == "security" || m.Source == "javascript" {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	DeferCleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		Expect(b.problems).To(BeEmpty(), "the page must not throw or log errors")
	})
	return b
}

// do runs actions, each bounded.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	Expect(chromedp.Do(ctx, actions...)).To(Succeed())
}

// eval evaluates a JavaScript expression in the page, bounded; promises are
// awaited.
func eval[T any](b *browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func mustEval[T any](b *browser, expr string) T {
	GinkgoHelper()
	v, err := eval[T](b, expr)
	Expect(err).NotTo(HaveOccurred(), expr)
	return v
}

// paste focuses a field and inserts text as a paste does.
func (b *browser) paste(selector, text string) {
	GinkgoHelper()
	b.do(chromedp.Focus(chromedp.CSS(selector)), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text})
		return err
	}))
}

// ---- what the page shows ----

func (b *browser) connState() (string, error) {
	return eval[string](b, `document.getElementById('conn').dataset.state`)
}

func (b *browser) visible(id string) func() (bool, error) {
	return func() (bool, error) {
		return eval[bool](b, fmt.Sprintf(`(() => { const e = document.getElementById(%q); return !!e && !e.hidden && e.getClientRects().length > 0; })()`, id))
	}
}

func (b *browser) text(id string) func() (string, error) {
	return func() (string, error) {
		return eval[string](b, fmt.Sprintf(`document.getElementById(%q)?.textContent.trim() ?? ''`, id))
	}
}

type rowView struct {
	Phase    string  `json:"phase"`
	Progress float64 `json:"progress"`
	Message  string  `json:"message"`
	Run      string  `json:"run"`
	RunHref  string  `json:"runHref"`
	RunRel   string  `json:"runRel"`
	Duration string  `json:"duration"`
	Label    string  `json:"label"`
}

const rowScript = `(() => {
  const tr = document.querySelector('#cast-rows tr[data-cast-id=%q]');
  if (!tr) return null;
  const a = tr.querySelector('a');
  return {
    phase: tr.querySelector('.badge-text')?.textContent ?? '',
    progress: tr.querySelector('progress')?.value ?? -1,
    message: tr.querySelector('.msg')?.textContent ?? '',
    run: a?.textContent ?? '', runHref: a?.getAttribute('href') ?? '', runRel: a?.getAttribute('rel') ?? '',
    duration: tr.cells[6].textContent,
    label: tr.getAttribute('aria-label') ?? '',
  };
})()`

// row is the row of castID ("ns/name"), nil when there is none.
func (b *browser) row(castID string) func() (*rowView, error) {
	return func() (*rowView, error) { return eval[*rowView](b, fmt.Sprintf(rowScript, castID)) }
}

func (b *browser) rowIDs() ([]string, error) {
	return eval[[]string](b, `[...document.querySelectorAll('#cast-rows tr')].map((tr) => tr.dataset.castId)`)
}

func (b *browser) toasts() ([]string, error) {
	return eval[[]string](b, `[...document.querySelectorAll('#toasts .toast-text')].map((e) => e.textContent)`)
}

type detailView struct {
	Visible   bool     `json:"visible"`
	Title     string   `json:"title"`
	Phase     string   `json:"phase"`
	Stream    string   `json:"stream"`
	Progress  float64  `json:"progress"`
	Message   string   `json:"message"`
	Cost      string   `json:"cost"`
	Duration  string   `json:"duration"`
	Facts     string   `json:"facts"`
	Artifacts []string `json:"artifacts"`
}

func (b *browser) detail() (detailView, error) {
	return eval[detailView](b, `(() => {
  const $ = (id) => document.getElementById(id);
  return {
    visible: !$('detail-view').hidden,
    title: $('detail-title').textContent,
    phase: $('detail-phase').textContent.trim(),
    stream: $('detail-view').dataset.stream ?? '',
    progress: $('detail-progress').value,
    message: $('detail-message').textContent,
    cost: $('detail-cost')?.textContent ?? '',
    duration: $('detail-duration')?.textContent ?? '',
    facts: $('detail-facts').innerText,
    artifacts: [...document.querySelectorAll('#detail-artifacts li')].map((li) => li.textContent),
  };
})()`)
}

// signIn pastes token into the sign-in form and submits it.
func (b *browser) signIn(token string) {
	GinkgoHelper()
	Eventually(b.visible("signin-view")).Should(BeTrue(), "the sign-in form shows when nobody is signed in")
	b.paste("#token", token)
	b.do(chromedp.Click(chromedp.CSS("#signin-submit")))
}

// chooseNamespace types ns into the namespace field and submits it.
func (b *browser) chooseNamespace(ns string) {
	GinkgoHelper()
	Eventually(b.visible("scope-form")).Should(BeTrue())
	b.do(chromedp.SetValue(chromedp.CSS("#namespace"), ns), chromedp.Click(chromedp.CSS("#scope-form button[type=submit]")))
}

func (b *browser) cspViolations() []string {
	GinkgoHelper()
	return mustEval[[]string](b, `window.__cspViolations`)
}

var errNoRow = errors.New("no such row")

// rowValue is row(castID) for Gomega matchers that need a value.
func (b *browser) rowValue(castID string) func() (rowView, error) {
	return func() (rowView, error) {
		r, err := b.row(castID)()
		if err == nil && r == nil {
			err = errNoRow
		}
		if r == nil {
			return rowView{}, err
		}
		return *r, err
	}
}

// allResourcesFrom asserts every URL the page fetched is on origin.
func (b *browser) allResourcesFrom(origin string) {
	GinkgoHelper()
	urls := mustEval[[]string](b, `[location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]`)
	for _, u := range urls {
		Expect(strings.HasPrefix(u, origin+"/")).To(BeTrue(), "the page fetched %s, off its own origin", u)
	}
}
