package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/webhook"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// githubConfig sizes scenario 6, the operator against the GitHub fake's
// rate-limit books.
type githubConfig struct {
	attached  int           // 6a: attached Casts on one token, no webhooks
	repos     int           // 6a: repositories they spread over
	quiet     time.Duration // 6a: window without changes
	storm     int           // 6b: Casts dispatched at once
	low       int           // 6c: Casts on a credential with 300 calls left
	lowWindow time.Duration // 6c: time until that credential's reset
	lowLeft   int           // 6c: calls left until the reset
	resync    time.Duration // the controller's --resync-interval
}

func (g *githubConfig) bind(fs *flag.FlagSet) {
	fs.IntVar(&g.attached, "github-attached", 1000, "attached Casts on one 5,000/h token without webhooks (scenario 6a)")
	fs.IntVar(&g.repos, "github-repos", 10, "repositories the attached Casts spread over (scenario 6a)")
	fs.DurationVar(&g.quiet, "github-quiet", 3*time.Minute, "window without changes whose counted calls are projected to an hour (scenario 6a)")
	fs.IntVar(&g.storm, "github-storm", 500, "Casts created at once and dispatched, then driven by webhooks (scenario 6b)")
	fs.IntVar(&g.low, "github-low-casts", 300, "attached Casts on a credential low on budget, a third followed by webhooks (scenario 6c)")
	fs.DurationVar(&g.lowWindow, "github-low-window", 3*time.Minute, "time until the low credential's reset (scenario 6c)")
	fs.IntVar(&g.lowLeft, "github-low-left", 300, "calls the low credential has left until its reset (scenario 6c)")
	fs.DurationVar(&g.resync, "github-resync-interval", 60*time.Second, "the controller's --resync-interval in scenario 6 (60s is the operator's default; less compresses time)")
}

// smoke shrinks scenario 6 to seconds. The resync interval is compressed
// 12× so the change round of 6a ends quickly; the goals still apply, but
// at these sizes they say nothing.
func (g *githubConfig) smoke() map[string]func() {
	return map[string]func(){
		"github-attached": func() { g.attached = 20 }, "github-repos": func() { g.repos = 2 },
		"github-quiet": func() { g.quiet = 5 * time.Second }, "github-storm": func() { g.storm = 10 },
		"github-low-casts": func() { g.low = 30 }, "github-low-window": func() { g.lowWindow = 20 * time.Second },
		"github-resync-interval": func() { g.resync = 5 * time.Second },
	}
}

func (g *githubConfig) validate() error {
	if g.attached <= 0 || g.repos <= 0 || g.quiet <= 0 || g.storm <= 0 || g.low < 3 || g.lowWindow <= 0 || g.lowLeft <= 0 || g.resync <= 0 {
		return errors.New("-github-* sizes and durations must be positive, -github-low-casts at least 3")
	}
	return nil
}

// Namespaces of the GitHub rows, one per sub-scenario so each is listed
// on its own.
const (
	ghAttachedNS = "bench-gh-attached"
	ghStormNS    = "bench-gh-storm"
	ghLowNS      = "bench-gh-low"
	ghSecretName = "github-token"
)

// ghEnv is what the GitHub sub-scenarios share: the fake, one controller
// process and its webhook address. Each sub-scenario has its own token,
// handed to its Casts through spec.credentialsSecretRef, so the fake keeps
// separate books for each while one controller serves them all.
type ghEnv struct {
	fake    *ghapitest.Server
	ctrl    *child
	hookURL string
	seq     atomic.Int64 // X-GitHub-Delivery numbers, unique per controller
}

// githubScenario runs scenario 6 against one controller and the fake.
func (b *bench) githubScenario(ctx context.Context) error {
	fake := ghapitest.NewServer()
	defer fake.Close()
	defer func() {
		if err := dumpRequests(fake, b.tmp); err != nil {
			b.progress("github: writing the fake's request log: %v", err)
		}
	}()
	g := b.cfg.gh
	for _, ns := range []string{ghAttachedNS, ghStormNS, ghLowNS} {
		if err := ignoreExists(b.cl.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})); err != nil {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	ctrl, hookAddr, err := b.startController("controller-github.log",
		"--github-api-url", fake.URL, "--resync-interval", g.resync.String())
	if err != nil {
		return err
	}
	defer ctrl.stop()
	env := &ghEnv{fake: fake, ctrl: ctrl, hookURL: "http://" + hookAddr + webhook.DefaultPath}
	env.seq.Store(1 << 40)

	b.progress("github 6a: %d attached Casts in %d repositories on one token, no webhooks", g.attached, g.repos)
	if err := b.ghAttached(ctx, env); err != nil {
		return fmt.Errorf("attached casts: %w", err)
	}
	b.progress("github 6b: dispatch storm of %d Casts, then webhook lifecycles", g.storm)
	if err := b.ghStorm(ctx, env); err != nil {
		return fmt.Errorf("dispatch storm: %w", err)
	}
	b.progress("github 6c: %d Casts on a credential with %d calls left for %s", g.low, g.lowLeft, g.lowWindow)
	if err := b.ghLow(ctx, env); err != nil {
		return fmt.Errorf("low budget: %w", err)
	}
	return nil
}

// tokenSecret creates the Secret a sub-scenario's Casts name in
// spec.credentialsSecretRef.
func (b *bench) tokenSecret(ctx context.Context, ns, token string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ghSecretName},
		StringData: map[string]string{"token": token}}
	if err := ignoreExists(b.cl.k8s.Create(ctx, s)); err != nil {
		return fmt.Errorf("creating the token Secret in %s: %w", ns, err)
	}
	return nil
}

// createCasts creates n Casts in ns, made by mk(i), 16 at a time.
func (b *bench) createCasts(ctx context.Context, ns string, n int, mk func(i int) castv1alpha1.Cast) error {
	err := parallel(ctx, n, 16, func(i int) error {
		c := mk(i)
		c.Namespace = ns
		c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: ghSecretName}
		return ignoreExists(b.cl.k8s.Create(ctx, &c))
	})
	if err != nil {
		return fmt.Errorf("creating casts in %s: %w", ns, err)
	}
	return nil
}

// listNS reads the namespace's Casts from the API server itself, not a
// cache, so what the goals assert is what users see.
func (b *bench) listNS(ctx context.Context, ns string) ([]castv1alpha1.Cast, error) {
	var list castv1alpha1.CastList
	if err := b.cl.k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing casts in %s: %w", ns, err)
	}
	return list.Items, nil
}

// waitNS polls the namespace every interval until done says so or the
// deadline passes; it returns when that was and the last listing.
func (b *bench) waitNS(ctx context.Context, ns string, interval time.Duration, deadline time.Time,
	done func([]castv1alpha1.Cast) bool) (time.Time, []castv1alpha1.Cast, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		items, err := b.listNS(ctx, ns)
		if err != nil {
			return time.Time{}, nil, err
		}
		now := time.Now()
		if done(items) {
			return now, items, nil
		}
		if now.After(deadline) {
			return now, items, errDeadline
		}
		select {
		case <-ctx.Done():
			return now, items, ctx.Err()
		case <-t.C:
		}
	}
}

// errDeadline: a wait ran out of time. A goal then FAILs; it is not a
// harness error.
var errDeadline = errors.New("deadline passed")

// count returns how many Casts satisfy ok.
func count(items []castv1alpha1.Cast, ok func(*castv1alpha1.Cast) bool) int {
	n := 0
	for i := range items {
		if ok(&items[i]) {
			n++
		}
	}
	return n
}

// all is done when want Casts exist and every one satisfies ok.
func all(want int, ok func(*castv1alpha1.Cast) bool) func([]castv1alpha1.Cast) bool {
	return func(items []castv1alpha1.Cast) bool { return len(items) >= want && count(items, ok) == len(items) }
}

func phaseIs(p castv1alpha1.CastPhase) func(*castv1alpha1.Cast) bool {
	return func(c *castv1alpha1.Cast) bool { return c.Status.Phase == p }
}

// succeededComplete: the run succeeded and the controller finished the
// Cast (artifacts and cost collected, Complete=True).
func succeededComplete(c *castv1alpha1.Cast) bool {
	return c.Status.Phase == castv1alpha1.PhaseSucceeded && c.Status.Conclusion == "success" &&
		metaTrue(c, castv1alpha1.ConditionComplete)
}

func metaTrue(c *castv1alpha1.Cast, cond string) bool {
	for _, x := range c.Status.Conditions {
		if x.Type == cond {
			return x.Status == metav1.ConditionTrue
		}
	}
	return false
}

// send posts deliveries with senders workers, each retried (100 ms apart,
// up to 10 s) until one Cast took it: a delivery may beat the status write
// that makes its run findable, as on GitHub. It returns how many never
// reached a Cast.
func (e *ghEnv) send(ctx context.Context, ds []delivery, senders int) int {
	queue := make(chan delivery)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for d := range queue {
				if !e.deliver(ctx, hc, d) {
					failed.Add(1)
				}
			}
		})
	}
	for _, d := range ds {
		if ctx.Err() != nil {
			break
		}
		queue <- d
	}
	close(queue)
	wg.Wait()
	return int(failed.Load())
}

func (e *ghEnv) deliver(ctx context.Context, hc *http.Client, d delivery) bool {
	for range 100 {
		code, body, err := post(hc, e.hookURL, d, e.seq.Add(1))
		if err == nil && code == http.StatusAccepted && strings.Contains(body, "stored in 1 cast") {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// completeRun makes the fake's run finish successfully with one completed
// job (two steps, ubuntu-latest) and one artifact, bumping updated_at as
// GitHub does.
func completeRun(fake *ghapitest.Server, id int64, at time.Time) bool {
	return fake.UpdateRun(id, func(r *ghapitest.Run) {
		r.Status, r.Conclusion, r.UpdatedAt = "completed", "success", at
		r.Jobs = []ghapitest.Job{benchJob(id, "completed", at)}
		r.Artifacts = []ghapitest.Artifact{{ID: id, Name: "spell-output", SizeInBytes: 4096}}
	})
}

// benchJob is the run's one job: queued, in_progress (first step done) or
// completed, as in lifecycle's deliveries.
func benchJob(run int64, status string, at time.Time) ghapitest.Job {
	j := ghapitest.Job{ID: run*10 + 1, Name: "build", Status: status, Labels: []string{"ubuntu-latest"}, RunnerName: "bench-runner"}
	steps := []string{"queued", "queued"}
	switch status {
	case "in_progress":
		steps = []string{"completed", "in_progress"}
		j.StartedAt = at.Add(-time.Minute)
	case "completed":
		steps = []string{"completed", "completed"}
		j.Conclusion, j.StartedAt, j.CompletedAt = "success", at.Add(-2*time.Minute), at
	}
	for k, st := range steps {
		s := ghapitest.Step{Number: int64(k + 1), Name: fmt.Sprintf("step %d", k+1), Status: st}
		if st == "completed" {
			s.Conclusion = "success"
		}
		j.Steps = append(j.Steps, s)
	}
	return j
}

// quantiles returns p50, p99 and max of v (sorted in place); -1s when empty.
func quantiles(v []time.Duration) (p50, p99, mx time.Duration) {
	if len(v) == 0 {
		return -1, -1, -1
	}
	slices.Sort(v)
	at := func(q float64) time.Duration { return v[min(len(v)-1, int(q*float64(len(v))))] }
	return at(0.5), at(0.99), v[len(v)-1]
}
