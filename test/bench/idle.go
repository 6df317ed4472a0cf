package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// idleConfig sizes the idle scenario: attached Casts with no news, which
// must cost the controller one look per resync interval and nothing more.
type idleConfig struct {
	casts      int           // attached Casts
	namespaces int           // namespaces they spread over
	repos      int           // repositories their runs spread over
	resync     time.Duration // the controller's --resync-interval
	window     time.Duration // measured window, after every Cast was reconciled once
	settle     time.Duration // longest wait for that first reconcile
	cpuprofile string        // folder for a controller CPU profile per run; empty: none
}

func (c *idleConfig) bind(fs *flag.FlagSet) {
	fs.IntVar(&c.casts, "idle-casts", 10000, "attached Casts with no news (idle scenario)")
	fs.IntVar(&c.namespaces, "idle-namespaces", 20, "namespaces the idle Casts spread over")
	fs.IntVar(&c.repos, "idle-repos", 100, "repositories the idle Casts' runs spread over (100 runs each at the default size: one page per listing)")
	// The operator's default: what an idle Cast costs is paid per
	// interval, so the CPU goal is stated at the cadence users run. A
	// shorter interval costs proportionally more (at 30 s, twice).
	fs.DurationVar(&c.resync, "idle-resync-interval", 60*time.Second, "the controller's --resync-interval in the idle scenario (60s is the operator's default)")
	fs.DurationVar(&c.window, "idle-window", 120*time.Second, "measured window per run of the idle scenario (at least two resync intervals)")
	fs.DurationVar(&c.settle, "idle-settle", 10*time.Minute, "longest wait for the controller to reconcile every idle Cast once")
	fs.StringVar(&c.cpuprofile, "controller-cpuprofile", "", "folder to write a CPU profile of the controller over each idle window to (idle-<run>.pprof); empty: none")
}

func (c *idleConfig) smoke() map[string]func() {
	return map[string]func(){
		"idle-casts": func() { c.casts = 200 }, "idle-namespaces": func() { c.namespaces = 2 },
		"idle-repos": func() { c.repos = 4 }, "idle-resync-interval": func() { c.resync = 5 * time.Second },
		"idle-window": func() { c.window = 10 * time.Second }, "idle-settle": func() { c.settle = time.Minute },
	}
}

func (c *idleConfig) validate() error {
	if c.casts <= 0 || c.namespaces <= 0 || c.repos <= 0 || c.resync <= 0 || c.settle <= 0 {
		return errors.New("-idle-* sizes and durations must be positive")
	}
	if c.window < 2*c.resync {
		return errors.New("-idle-window must span at least two -idle-resync-interval")
	}
	return nil
}

// idleListEvery spaces the full lists that check every Cast was reconciled.
const idleListEvery = 15 * time.Second

const (
	idleToken = "bench-token-idle"
	idleRunID = 8_000_000
)

func idleNS(i int) string          { return fmt.Sprintf("bench-idle-%d", i) }
func idleRepo(i, repos int) string { return fmt.Sprintf("idle-org/repo-%d", i%repos) }

// idleRun is one controller run over the idle Casts.
type idleRun struct {
	label      string // "no token" or "with a token"
	casts      int
	ok         bool   // both scrapes and both /proc readings were taken
	why        string // what is missing when !ok
	settled    time.Duration
	resync     time.Duration
	window     time.Duration
	reconciles float64
	cpu        usage
}

// perInterval is reconciles per Cast per resync interval in the window.
func (r idleRun) perInterval() float64 {
	return r.reconciles / float64(max(r.casts, 1)) / (r.window.Seconds() / r.resync.Seconds())
}

// corePercent is the controller's CPU in the window as % of one core.
func (r idleRun) corePercent() float64 { return 100 * r.cpu.CPU / r.window.Seconds() }

// idleScenario creates the idle Casts once, then runs the controller over
// them twice: without a GitHub token (they follow webhooks alone, and none
// come), then with a token for the fake, which knows their runs as queued.
func (b *bench) idleScenario(ctx context.Context) error {
	c := b.cfg.idle
	// The controller watches every namespace: earlier scenarios' Casts go,
	// so the reconciles counted are the idle Casts' alone. Those with a
	// finalizer leave once the first controller run has released them.
	var left castv1alpha1.CastList
	if err := b.cl.k8s.List(ctx, &left); err != nil {
		return fmt.Errorf("listing earlier casts: %w", err)
	}
	done := map[string]bool{}
	for _, x := range left.Items {
		if done[x.Namespace] || strings.HasPrefix(x.Namespace, "bench-idle-") {
			continue
		}
		done[x.Namespace] = true
		if err := b.cl.k8s.DeleteAllOf(ctx, &castv1alpha1.Cast{}, client.InNamespace(x.Namespace)); err != nil {
			return fmt.Errorf("deleting earlier casts in %s: %w", x.Namespace, err)
		}
	}
	for i := range c.namespaces {
		if err := ignoreExists(b.cl.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: idleNS(i)}})); err != nil {
			return fmt.Errorf("creating namespace %s: %w", idleNS(i), err)
		}
	}
	fake := ghapitest.NewServer()
	defer fake.Close()
	// A budget the idle Casts cannot exhaust: this row is about idleness;
	// budget spreading is scenario 6's.
	fake.SetRateLimitFor(idleToken, 10_000_000, 10_000_000, time.Now().Add(2*time.Hour))
	created := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	for i := range c.casts {
		id := int64(idleRunID + i)
		fake.AddRun(ghapitest.Run{ID: id, Repository: idleRepo(i, c.repos), CreatedAt: created,
			DisplayTitle: fmt.Sprintf("cast idle-%d", i), Jobs: []ghapitest.Job{benchJob(id, "queued", created)}})
	}
	b.progress("idle: creating %d attached Casts in %d namespaces", c.casts, c.namespaces)
	start := time.Now()
	err := parallel(ctx, c.casts, 32, func(i int) error {
		return ignoreExists(b.cl.k8s.Create(ctx, &castv1alpha1.Cast{
			ObjectMeta: metav1.ObjectMeta{Namespace: idleNS(i % c.namespaces), Name: fmt.Sprintf("idle-%d", i)},
			Spec:       castv1alpha1.CastSpec{Repository: idleRepo(i, c.repos), Workflow: "cast.yml", RunID: ptrTo(int64(idleRunID + i))},
		}))
	})
	if err != nil {
		return fmt.Errorf("creating idle casts: %w", err)
	}
	b.progress("idle: created in %s", time.Since(start).Round(time.Second))

	attachedOnce := func(x *castv1alpha1.Cast) bool { return x.Status.RunID != 0 && x.Status.Phase != "" }
	b.progress("idle: controller without a GitHub token")
	// The fake's URL even without a token: a Secret left by scenario 6 must
	// not send a deleted Cast's cancel to api.github.com.
	if err := b.idleRun(ctx, "no token", attachedOnce, "--github-api-url", fake.URL); err != nil {
		return err
	}
	tokenFile := filepath.Join(b.tmp, "github-token-idle")
	if err := os.WriteFile(tokenFile, []byte(idleToken), 0o600); err != nil {
		return err
	}
	b.progress("idle: controller with a token; the fake lists the runs as queued")
	queued := func(x *castv1alpha1.Cast) bool { return x.Status.Phase == castv1alpha1.PhaseQueued }
	if err := b.idleRun(ctx, "with a token", queued, "--github-api-url", fake.URL, "--github-token-file", tokenFile); err != nil {
		return err
	}
	return b.idleCleanup(ctx, fake.URL)
}

// idleCleanup deletes the idle Casts so later scenarios' controllers do
// not meet them. A controller without a token releases their finalizers at
// once (it cannot cancel the runs; with the token it would cancel 10,000
// runs at GitHub's write pace).
func (b *bench) idleCleanup(ctx context.Context, apiURL string) error {
	c := b.cfg.idle
	for i := range c.namespaces {
		if err := b.cl.k8s.DeleteAllOf(ctx, &castv1alpha1.Cast{}, client.InNamespace(idleNS(i))); err != nil {
			return fmt.Errorf("deleting idle casts in %s: %w", idleNS(i), err)
		}
	}
	ctrl, _, err := b.startController("controller-idle-cleanup.log", "--github-api-url", apiURL)
	if err != nil {
		return err
	}
	defer ctrl.stop()
	deadline := time.Now().Add(c.settle)
	for {
		var list castv1alpha1.CastList
		if err := b.cl.k8s.List(ctx, &list); err != nil {
			return fmt.Errorf("listing casts: %w", err)
		}
		left := 0
		for _, x := range list.Items {
			if strings.HasPrefix(x.Namespace, "bench-idle-") {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			b.progress("idle: %d idle Casts still there after %s; later scenarios will see them", left, c.settle)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}

// idleRun starts the controller with args, waits until it has reconciled
// every idle Cast once (ready says so, and no other Cast is left), then
// counts its reconciles and CPU over the window.
func (b *bench) idleRun(ctx context.Context, label string, ready func(*castv1alpha1.Cast) bool, args ...string) error {
	c := b.cfg.idle
	run := idleRun{label: label, casts: c.casts, resync: c.resync, window: c.window}
	defer func() { b.res.idleCasts = append(b.res.idleCasts, run) }()
	metricsAddr, err := freePort()
	if err != nil {
		return err
	}
	logName := "controller-idle-" + strings.ReplaceAll(label, " ", "-") + ".log"
	args = append([]string{"--metrics-bind-address", metricsAddr, "--resync-interval", c.resync.String()}, args...)
	var pprofAddr string
	if c.cpuprofile != "" {
		if pprofAddr, err = freePort(); err != nil {
			return err
		}
		args = append(args, "--pprof-bind-address", pprofAddr)
	}
	ctrl, _, err := b.startController(logName, args...)
	if err != nil {
		return err
	}
	defer ctrl.stop()
	start := time.Now()
	url := "http://" + metricsAddr + "/metrics"
	// Listing 10,000 Casts is heavy for kube-apiserver: the controller's
	// own count says when a list can be worth it, and lists are spaced.
	var last string
	var listed time.Time
	for {
		m, err := scrape(url)
		total, _ := reconcileTotal(m)
		if err == nil && total >= float64(c.casts) && time.Since(listed) >= idleListEvery {
			listed = time.Now()
			var list castv1alpha1.CastList
			if err := b.cl.k8s.List(ctx, &list); err != nil {
				return fmt.Errorf("listing casts: %w", err)
			}
			n := count(list.Items, ready)
			last = fmt.Sprintf("%d of %d Casts ready, %d Casts in the cluster", n, c.casts, len(list.Items))
			if n == c.casts && len(list.Items) == c.casts {
				break
			}
		}
		if time.Since(start) > c.settle {
			run.why = fmt.Sprintf("not settled after %s: %s (%.0f reconciles)", c.settle, last, total)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	run.settled = time.Since(start)
	b.progress("idle, %s: every Cast reconciled once after %s; window of %s", label, run.settled.Round(time.Second), c.window)
	before, err1 := scrape(url)
	w := sample(b.cl.apiPID, ctrl.pid())
	prof := startCPUProfile(pprofAddr, c.cpuprofile, label, c.window)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(c.window):
	}
	after, err2 := scrape(url)
	us := w.end()
	if path, err := prof.wait(); err != nil {
		b.progress("idle, %s: no CPU profile: %v", label, err)
	} else if path != "" {
		b.progress("idle, %s: controller CPU profile in %s", label, path)
	}
	run.cpu = us[1]
	b0, ok0 := reconcileTotal(before)
	b1, ok1 := reconcileTotal(after)
	switch {
	case err1 != nil || err2 != nil:
		run.why = fmt.Sprintf("scraping %s: %v", url, errors.Join(err1, err2))
	case !ok0 || !ok1:
		run.why = "no controller_runtime_reconcile_total series for the cast controller"
	case !us[1].OK:
		run.why = "the controller's /proc could not be read"
	default:
		run.ok, run.reconciles = true, b1-b0
	}
	// How long a reconcile took and how many waited at the end say
	// whether the controller kept up with its schedule.
	tSum := seriesSum(after, "controller_runtime_reconcile_time_seconds_sum{") - seriesSum(before, "controller_runtime_reconcile_time_seconds_sum{")
	tCount := seriesSum(after, "controller_runtime_reconcile_time_seconds_count{") - seriesSum(before, "controller_runtime_reconcile_time_seconds_count{")
	waiting := seriesSum(after, "workqueue_depth{")
	note := run.why
	b.progress("idle, %s: %.0f reconciles, controller %.1f CPU s in the window %s", label, run.reconciles, us[1].CPU, run.why)
	if run.ok {
		note = fmt.Sprintf("%s reconciles in %s (%.2f per Cast per %s resync interval), %s each on average, %.0f waiting in the queue at the end; every Cast reconciled once %s after the controller started",
			human(run.reconciles), run.window, run.perInterval(), run.resync, dur(time.Duration(tSum/max(tCount, 1)*float64(time.Second))), waiting, dur(run.settled))
	}
	b.res.add(row{scenario: "9. idle Casts", design: "attached, no news, " + label, clients: c.casts,
		throughput: fmt.Sprintf("%.1f reconciles/s", run.reconciles/run.window.Seconds()),
		proc:       us[1], procName: "controller", api: us[0], note: note})
	return nil
}

// reconcileTotal sums the Cast controller's reconciles over all results.
func reconcileTotal(m metrics) (float64, bool) {
	var n float64
	found := false
	for series, v := range m {
		if strings.HasPrefix(series, "controller_runtime_reconcile_total{") && strings.Contains(series, `controller="cast"`) {
			n += v
			found = true
		}
	}
	return n, found
}

// seriesSum adds up the Cast controller's series that start with prefix.
func seriesSum(m metrics, prefix string) float64 {
	var n float64
	for series, v := range m {
		if strings.HasPrefix(series, prefix) && strings.Contains(series, `controller="cast"`) {
			n += v
		}
	}
	return n
}

// idleCastsGoals: with and without a token, an idle Cast costs at most
// one reconcile per resync interval and the controller at most 5% of one
// core. A run without a measurement FAILs.
func (r *results) idleCastsGoals(add func(goal), skip func(string, string)) {
	const target = "≤ 1 reconcile per Cast per resync interval and ≤ 5% of one core"
	if !r.cfg.runs(scIdle) {
		skip("Idle Casts, attached, no token", target)
		skip("Idle Casts, attached, with a token", target)
		return
	}
	for _, label := range []string{"no token", "with a token"} {
		name := fmt.Sprintf("Idle Casts, %s attached, %s", human(float64(r.cfg.idle.casts)), label)
		var run *idleRun
		for i := range r.idleCasts {
			if r.idleCasts[i].label == label {
				run = &r.idleCasts[i]
			}
		}
		if run == nil || !run.ok {
			why := "no measurement"
			if run != nil && run.why != "" {
				why += ": " + run.why
			}
			add(goal{name: name, target: target, measured: why})
			continue
		}
		per, pct := run.perInterval(), run.corePercent()
		add(goal{name: name, target: target,
			measured: fmt.Sprintf("%.2f reconciles per Cast per %s interval %s; controller %.2f%% of one core %s",
				per, run.resync, "("+margin(per, 1, true)+")", pct, "("+margin(pct, 5, true)+")"),
			// No look at all in two intervals would be a stopped resync.
			pass: per > 0 && per <= 1 && pct <= 5})
	}
}
