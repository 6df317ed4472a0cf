package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/webhook"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// screenConfig sizes scenario 8, GitHub to screen: signed deliveries to
// the real controller, read back by streamer clients.
type screenConfig struct {
	clients  int
	rates    []int
	duration time.Duration
	casts    int // Casts per window, round-robin
}

func (s *screenConfig) bind(fs *flag.FlagSet) {
	fs.IntVar(&s.clients, "screen-clients", 1000, "streamer clients reading every delivery's event (scenario 8, GitHub to screen)")
	fs.Func("screen-rates", "comma-separated webhook deliveries per second, one window each (scenario 8; default 10,100)", func(v string) error {
		s.rates = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("%q is not a positive number", f)
			}
			s.rates = append(s.rates, n)
		}
		return nil
	})
	s.rates = []int{10, 100}
	fs.DurationVar(&s.duration, "screen-duration", 20*time.Second, "length of each delivery window (scenario 8)")
	fs.IntVar(&s.casts, "screen-casts", 200, "Casts each window's deliveries go round-robin over, so consecutive deliveries hit different Casts (scenario 8)")
}

func (s *screenConfig) smoke() map[string]func() {
	return map[string]func(){
		"screen-clients":  func() { s.clients = 20 },
		"screen-duration": func() { s.duration = 3 * time.Second },
		"screen-casts":    func() { s.casts = 20 },
	}
}

func (s *screenConfig) validate() error {
	if s.clients <= 0 || s.duration <= 0 || s.casts <= 0 || len(s.rates) == 0 {
		return errors.New("-screen-clients, -screen-duration, -screen-casts and -screen-rates must be positive")
	}
	return nil
}

const (
	screenNS        = "bench-screen"
	screenToken     = "bench-token-screen"
	screenRunBase   = 7_000_000
	screenRepo      = "bench-org/screen"
	screenDrain     = 15 * time.Second // after the last POST, how long events may still arrive
	screenConnWidth = 100
)

// screenScenario runs scenario 8: a fresh streamer and a controller with
// a webhook secret and a token for the GitHub fake; per rate, a window of
// signed workflow_job deliveries, each timed from the start of its POST
// until every client has read its event.
func (b *bench) screenScenario(ctx context.Context) error {
	cfg := b.cfg.screen
	// The delivery scenarios' Casts name runs that exist nowhere; with a
	// token the controller would keep asking GitHub about them.
	for i := range b.cfg.namespaces {
		if err := b.cl.k8s.DeleteAllOf(ctx, &castv1alpha1.Cast{}, client.InNamespace(streamNS(i))); err != nil {
			return fmt.Errorf("deleting the delivery scenarios' casts: %w", err)
		}
	}
	if err := ignoreExists(b.cl.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: screenNS}})); err != nil {
		return fmt.Errorf("creating namespace %s: %w", screenNS, err)
	}
	if err := b.restartStreamer(); err != nil {
		return err
	}
	fake := ghapitest.NewServer()
	defer fake.Close()
	tokenFile := filepath.Join(b.tmp, "github-token-screen")
	if err := os.WriteFile(tokenFile, []byte(screenToken), 0o600); err != nil {
		return err
	}
	// Windows use their own Casts, so each window starts every Cast's job
	// from its first step.
	windows := make([]*screenWindow, len(cfg.rates))
	seq := 0
	for w, rate := range cfg.rates {
		n := int(float64(rate) * cfg.duration.Seconds())
		windows[w] = newScreenWindow(rate, n, cfg.casts, w*cfg.casts, seq, cfg.clients)
		seq += n
	}
	total := len(cfg.rates) * cfg.casts
	created := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	for c := range total {
		id := int64(screenRunBase + c)
		fake.AddRun(ghapitest.Run{ID: id, Repository: screenRepo, Status: "in_progress", CreatedAt: created, UpdatedAt: created,
			RunStartedAt: created, Jobs: []ghapitest.Job{{ID: id*10 + 1, Name: "screen", Status: "queued", Labels: []string{"ubuntu-latest"}}}})
	}
	ctrl, hookAddr, err := b.startController("controller-screen.log", "--resync-interval", "1h", "--webhook-resync-interval", "1h",
		"--github-api-url", fake.URL, "--github-token-file", tokenFile)
	if err != nil {
		return err
	}
	defer ctrl.stop()

	b.progress("screen: %d attached Casts, waiting for Running", total)
	err = parallel(ctx, total, 16, func(c int) error {
		return ignoreExists(b.cl.k8s.Create(ctx, &castv1alpha1.Cast{
			ObjectMeta: metav1.ObjectMeta{Namespace: screenNS, Name: screenCastName(c)},
			Spec:       castv1alpha1.CastSpec{Repository: screenRepo, Workflow: "cast.yml", RunID: ptrTo(int64(screenRunBase + c))},
		}))
	})
	if err != nil {
		return fmt.Errorf("creating casts: %w", err)
	}
	if _, items, err := b.waitNS(ctx, screenNS, 200*time.Millisecond, time.Now().Add(2*time.Minute),
		all(total, phaseIs(castv1alpha1.PhaseRunning))); err != nil {
		return fmt.Errorf("waiting for the controller to attach the casts (%d/%d Running): %w",
			count(items, phaseIs(castv1alpha1.PhaseRunning)), total, err)
	}

	b.progress("screen: connecting %d clients to %s", cfg.clients, screenNS)
	fleet := newScreenFleet(b.streamAddr)
	defer fleet.closeAll()
	specs := make([]streamSpec, cfg.clients)
	for i := range specs {
		specs[i] = streamSpec{path: "/api/v1/namespaces/" + screenNS + "/casts/events", token: b.viewers[i%len(b.viewers)], ns: -1}
	}
	if err := fleet.open(ctx, specs, screenConnWidth); err != nil {
		return err
	}
	base, err := b.startScreenWatch(ctx)
	if err != nil {
		return err
	}
	defer base.stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	url := "http://" + hookAddr + webhook.DefaultPath
	for _, w := range windows {
		time.Sleep(time.Second) // let the previous window's tail settle
		b.progress("screen: %d clients, %d deliveries/s for %s", cfg.clients, w.rate, cfg.duration)
		r, err := b.runScreenWindow(ctx, fleet, base, fake, ctrl, hc, url, w)
		if err != nil {
			return err
		}
		b.res.screen = append(b.res.screen, r)
		b.res.add(r.row())
	}
	return nil
}

func screenCastName(c int) string { return fmt.Sprintf("screen-%d", c) }

// runScreenWindow posts w's deliveries at w.rate, each in its own goroutine
// so a slow answer never delays the schedule, then waits up to
// screenDrain for the last events.
func (b *bench) runScreenWindow(ctx context.Context, fleet *screenFleet, base *screenWatch, fake *ghapitest.Server, ctrl *child,
	hc *http.Client, url string, w *screenWindow) (screenResult, error) {
	connected := fleet.connected()
	w.clients = int32(connected)
	ww := w.shadow(1)
	base.cur.Store(ww)
	fleet.cur.Store(w)
	defer fleet.cur.Store(nil)
	defer base.cur.Store(nil)
	bodies := make([][]byte, w.n)
	for i := range bodies {
		bodies[i] = w.payload(i)
	}
	gh0 := fake.StatsFor(screenToken)
	dropped0 := fleet.dropped.Load()
	us := sample(ctrl.pid(), b.streamer.pid(), b.cl.apiPID, os.Getpid())
	interval := time.Second / time.Duration(w.rate)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range w.n {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { w.send(hc, url, i, bodies[i]) })
	}
	wg.Wait()
	sent := time.Since(t0)
	deadline := time.Now().Add(screenDrain)
	for (w.done.Load() < int64(w.n) || ww.done.Load() < int64(w.n)) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(t0)
	u := us.end()
	gh1 := fake.StatsFor(screenToken)
	return screenResult{rate: w.rate, clients: int(w.clients), wanted: b.cfg.screen.clients, deliveries: w.n,
		complete: int(w.done.Load()), partial: w.partial(), lat: w.lat.summary(), hooks: w.hooks.summary(),
		hookFailed: int(w.hookFailed.Load()), negative: int(w.negative.Load()), mismatched: int(w.mismatched.Load()),
		dropped: int(fleet.dropped.Load() - dropped0), sent: sent, took: took,
		ctrl: u[0], streamer: u[1], api: u[2], self: u[3], ghCounted: gh1.Counted - gh0.Counted,
		watch: ww.lat.summary(), watchComplete: int(ww.done.Load()), watchNegative: int(ww.negative.Load())}, ctx.Err()
}

// payload is delivery i's workflow_job in_progress: the Cast's job with
// k steps done and step k+1 running, named after the Cast and the
// delivery, so the Cast's status.message becomes "screen: c=<cast>
// d=<delivery>" and its progress rises. Each delivery has one more
// finished step than the last for that Cast, so the controller's merge
// takes it as newer.
func (w *screenWindow) payload(i int) []byte {
	c, k := w.castBase+i%w.casts, i/w.casts
	run := int64(screenRunBase + c)
	owner, name, _ := strings.Cut(screenRepo, "/")
	steps := make([]map[string]any, w.steps)
	for s := range steps {
		st, concl, nm := "queued", any(nil), fmt.Sprintf("step %d", s+1)
		switch {
		case s < k:
			st, concl = "completed", "success"
		case s == k:
			st, nm = "in_progress", fmt.Sprintf("c=%d d=%d", c, w.seqBase+i)
		}
		steps[s] = map[string]any{"number": s + 1, "name": nm, "status": st, "conclusion": concl}
	}
	return mustJSON(map[string]any{
		"action": "in_progress",
		"workflow_job": map[string]any{
			"id": run*10 + 1, "run_id": run, "run_attempt": 1, "name": "screen", "status": "in_progress", "conclusion": nil,
			"labels": []string{"ubuntu-latest"}, "steps": steps, "started_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		},
		"repository": map[string]any{"id": 78, "full_name": screenRepo, "name": name, "owner": map[string]any{"login": owner}},
		"sender":     map[string]any{"login": "bench-bot", "type": "Bot"},
	})
}

// send stamps delivery i's start, then POSTs it once: a delivery the
// controller does not take is a failure, not retried.
func (w *screenWindow) send(hc *http.Client, url string, i int, body []byte) {
	t := time.Now()
	w.start[i].Store(t.UnixNano())
	code, resp, err := post(hc, url, delivery{event: "workflow_job", body: body}, int64(2<<40+w.seqBase+i))
	w.hooks.record(time.Since(t))
	if err != nil || code != http.StatusAccepted || !strings.Contains(resp, "stored in 1 cast") {
		w.hookFailed.Add(1)
	}
}
