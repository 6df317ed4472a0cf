package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The browser each spec drives: a headless chromium of its own, and
// readers of what its page shows.

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
