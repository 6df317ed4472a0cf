package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

const (
	ghAttachedToken = "bench-token-attached"
	ghAttachedRunID = 7_000_000
)

// ghAttachedResult is scenario 6a: attached Casts followed by resync alone.
type ghAttachedResult struct {
	ran                         bool
	casts, repos                int
	queuedTook                  time.Duration
	quiet                       time.Duration
	quietCounted, quietNotMod   int
	perHour                     float64
	changed, seen               int
	p50, p99, max               time.Duration
	changeCounted, changeNotMod int
	primary                     int
	total                       ghapitest.Stats
}

func ghAttachedRepo(i, repos int) string { return fmt.Sprintf("quiet-org/repo-%d", i%repos) }

// ghAttached: N queued runs in the fake, N Casts attached to them on one
// token whose repositories never deliver webhooks. After every Cast shows
// Queued, a quiet window measures what following them costs, then every
// run starts at once and each Cast's staleness is how long it took to show
// Running.
func (b *bench) ghAttached(ctx context.Context, e *ghEnv) error {
	g := b.cfg.gh
	res := &b.res.gh.attached
	*res = ghAttachedResult{casts: g.attached, repos: g.repos, quiet: g.quiet}
	if err := b.tokenSecret(ctx, ghAttachedNS, ghAttachedToken); err != nil {
		return err
	}
	created := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	for i := range g.attached {
		id := int64(ghAttachedRunID + i)
		e.fake.AddRun(ghapitest.Run{ID: id, Repository: ghAttachedRepo(i, g.repos), CreatedAt: created,
			DisplayTitle: fmt.Sprintf("cast attached-%d", i), Jobs: []ghapitest.Job{benchJob(id, "queued", created)}})
	}
	w := sample(b.cl.apiPID, e.ctrl.pid())
	start := time.Now()
	err := b.createCasts(ctx, ghAttachedNS, g.attached, func(i int) castv1alpha1.Cast {
		return castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("attached-%d", i)},
			Spec: castv1alpha1.CastSpec{Repository: ghAttachedRepo(i, g.repos), Workflow: "cast.yml", RunID: ptrTo(int64(ghAttachedRunID + i))}}
	})
	if err != nil {
		return err
	}
	at, items, err := b.waitNS(ctx, ghAttachedNS, time.Second, start.Add(5*time.Minute), all(g.attached, phaseIs(castv1alpha1.PhaseQueued)))
	if err != nil {
		return fmt.Errorf("waiting for %d Casts to show Queued (%d do): %w", g.attached, count(items, phaseIs(castv1alpha1.PhaseQueued)), err)
	}
	res.queuedTook = at.Sub(start)

	// (a) Nothing changes on GitHub: every call counted here is overhead.
	b.progress("github 6a: all Queued after %s; quiet window of %s", res.queuedTook.Round(time.Second), g.quiet)
	s0 := e.fake.StatsFor(ghAttachedToken)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(g.quiet):
	}
	s1 := e.fake.StatsFor(ghAttachedToken)
	res.quietCounted, res.quietNotMod = s1.Counted-s0.Counted, s1.NotModified-s0.NotModified
	res.perHour = float64(res.quietCounted) * float64(time.Hour) / float64(g.quiet)

	// (b) Every run starts at T; a Cast is stale until the API server shows
	// it Running.
	b.progress("github 6a: change round, %d runs start at once", g.attached)
	T := time.Now()
	stamp := T.UTC().Truncate(time.Second)
	for i := range g.attached {
		id := int64(ghAttachedRunID + i)
		if !e.fake.UpdateRun(id, func(r *ghapitest.Run) {
			r.Status, r.UpdatedAt = "in_progress", stamp
			r.Jobs = []ghapitest.Job{benchJob(id, "in_progress", stamp)}
		}) {
			return fmt.Errorf("fake lost run %d", id)
		}
	}
	res.changed = g.attached
	seen := map[string]time.Duration{}
	running := func(c *castv1alpha1.Cast) bool { return c.Status.Phase == castv1alpha1.PhaseRunning }
	_, _, err = b.waitNS(ctx, ghAttachedNS, 250*time.Millisecond, T.Add(5*time.Minute+30*time.Second),
		func(items []castv1alpha1.Cast) bool {
			now := time.Since(T)
			for i := range items {
				if _, ok := seen[items[i].Name]; !ok && running(&items[i]) {
					seen[items[i].Name] = now
				}
			}
			return len(seen) >= g.attached
		})
	if err != nil && !errors.Is(err, errDeadline) {
		return fmt.Errorf("change round: %w", err)
	}
	s2 := e.fake.StatsFor(ghAttachedToken)
	res.changeCounted, res.changeNotMod = s2.Counted-s1.Counted, s2.NotModified-s1.NotModified
	us := w.end()
	stale := make([]time.Duration, 0, len(seen))
	for _, d := range seen {
		stale = append(stale, d)
	}
	res.seen = len(seen)
	res.p50, res.p99, res.max = quantiles(stale)
	res.total = s2
	res.primary = s2.PrimaryLimited
	res.ran = true
	b.res.add(row{scenario: "6. github", design: fmt.Sprintf("attached, resync only, %d repos", g.repos), clients: g.attached,
		lat: summary{N: uint64(len(stale)), P50: res.p50, P99: res.p99, Max: res.max}, hasLat: len(stale) > 0,
		throughput: fmt.Sprintf("%s counted calls/h projected", human(res.perHour)),
		proc:       us[1], procName: "controller", api: us[0],
		note: fmt.Sprintf("all Queued %s after creation; quiet %s: %d counted, %d not modified (304); change round: %d/%d Running, %d counted (%.2f per changed Cast), %d not modified; token total %d counted, %d primary-limited; latency = staleness after the change (resync interval %s)",
			dur(res.queuedTook), g.quiet, res.quietCounted, res.quietNotMod, res.seen, res.changed, res.changeCounted,
			float64(res.changeCounted)/float64(max(res.changed, 1)), res.changeNotMod, s2.Counted, s2.PrimaryLimited, g.resync) + "; non-304 calls by endpoint: " + callsByEndpoint(e.fake, ghAttachedToken)})
	return nil
}
