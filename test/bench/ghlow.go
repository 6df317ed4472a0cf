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
	ghLowToken = "bench-token-low"
	ghLowRunID = 8_000_000
	ghLowHooks = "low-org/hooks" // repository A: webhooks deliver
	// ghLowConverge is the goal after the reset.
	ghLowConverge = 5 * time.Minute
)

// ghLowRepo: the first third of the Casts follow repository A by webhook,
// the rest are spread over B and C, which never deliver.
func ghLowRepo(i, n int) string {
	switch {
	case i < n/3:
		return ghLowHooks
	case i%2 == 0:
		return "low-org/quiet-b"
	}
	return "low-org/quiet-c"
}

// ghLowResult is scenario 6c: a credential with little budget left.
type ghLowResult struct {
	ran                   bool
	casts, hooked, left   int
	window                time.Duration
	hookedDone            int
	hookedTook            time.Duration // from creation
	hookedBeforeReset     bool
	converged             int
	afterReset            time.Duration
	allConverged          bool
	primary, counted      int
	countedBefore         int
	undelivered, complete int
}

// ghLow gives a fresh token only lowLeft calls until a reset lowWindow
// away. Every run finishes on the fake right after the Casts are created;
// repository A's also send their five deliveries. The webhook Casts must
// finish on what is left, the others once the window rolls over, and the
// token must never meet GitHub's primary limit.
func (b *bench) ghLow(ctx context.Context, e *ghEnv) error {
	g := b.cfg.gh
	res := &b.res.gh.low
	hooked := g.low / 3
	*res = ghLowResult{casts: g.low, hooked: hooked, left: g.lowLeft, window: g.lowWindow}
	if err := b.tokenSecret(ctx, ghLowNS, ghLowToken); err != nil {
		return err
	}
	// GitHub's reset is whole seconds; a fractional one would let the
	// operator, reading the header, start the new window before the fake.
	reset := time.Now().Add(g.lowWindow).Truncate(time.Second)
	e.fake.SetRateLimitFor(ghLowToken, 5000, g.lowLeft, reset)
	created := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	for i := range g.low {
		id := int64(ghLowRunID + i)
		e.fake.AddRun(ghapitest.Run{ID: id, Repository: ghLowRepo(i, g.low), Status: "in_progress", CreatedAt: created,
			DisplayTitle: fmt.Sprintf("cast low-%d", i), Jobs: []ghapitest.Job{benchJob(id, "in_progress", created)}})
	}
	w := sample(b.cl.apiPID, e.ctrl.pid())
	start := time.Now()
	err := b.createCasts(ctx, ghLowNS, g.low, func(i int) castv1alpha1.Cast {
		return castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("low-%d", i)},
			Spec: castv1alpha1.CastSpec{Repository: ghLowRepo(i, g.low), Workflow: "cast.yml", RunID: ptrTo(int64(ghLowRunID + i))}}
	})
	if err != nil {
		return err
	}
	stamp := time.Now().UTC().Truncate(time.Second)
	var ds [5][]delivery
	for i := range g.low {
		id := int64(ghLowRunID + i)
		if !completeRun(e.fake, id, stamp) {
			return fmt.Errorf("fake lost run %d", id)
		}
		if i < hooked {
			for k, d := range lifecycleOf(ghLowHooks, id, i, stamp.Add(-time.Minute)) {
				ds[k] = append(ds[k], d)
			}
		}
	}
	for k := range ds {
		res.undelivered += e.send(ctx, ds[k], b.cfg.senders)
	}

	isHooked := func(c *castv1alpha1.Cast) bool { return c.Spec.Repository == ghLowHooks }
	succeeded := phaseIs(castv1alpha1.PhaseSucceeded)
	hookedDone := func(c *castv1alpha1.Cast) bool { return isHooked(c) && succeeded(c) }
	at, items, err := b.waitNS(ctx, ghLowNS, 500*time.Millisecond, reset,
		func(items []castv1alpha1.Cast) bool { return count(items, hookedDone) >= hooked })
	if err != nil && !errors.Is(err, errDeadline) {
		return fmt.Errorf("waiting for the webhook Casts: %w", err)
	}
	res.hookedDone, res.hookedTook, res.hookedBeforeReset = count(items, hookedDone), at.Sub(start), err == nil && at.Before(reset)
	res.countedBefore = e.fake.StatsFor(ghLowToken).Counted
	b.progress("github 6c: %d/%d webhook Casts Succeeded after %s; waiting for the reset at %s",
		res.hookedDone, hooked, res.hookedTook.Round(time.Second), reset.Format("15:04:05"))

	at, items, err = b.waitNS(ctx, ghLowNS, 500*time.Millisecond, reset.Add(ghLowConverge+30*time.Second), all(g.low, succeeded))
	if err != nil && !errors.Is(err, errDeadline) {
		return fmt.Errorf("waiting for every Cast after the reset: %w", err)
	}
	us := w.end()
	res.converged, res.afterReset, res.allConverged = count(items, succeeded), max(at.Sub(reset), 0), err == nil
	res.complete = count(items, succeededComplete)
	st := e.fake.StatsFor(ghLowToken)
	res.primary, res.counted = st.PrimaryLimited, st.Counted
	res.ran = true
	b.res.add(row{scenario: "6. github", design: fmt.Sprintf("%d calls left, reset in %s", g.lowLeft, g.lowWindow), clients: g.low,
		throughput: "—", proc: us[1], procName: "controller", api: us[0],
		note: fmt.Sprintf("%d/%d webhook Casts Succeeded %s after creation (reset at %s); all %d/%d Succeeded **%s after the reset** (%d Complete); token: %d counted before the reset, %d in all, %d primary-limited; %d deliveries never taken",
			res.hookedDone, hooked, dur(res.hookedTook), dur(reset.Sub(start)), res.converged, g.low, dur(res.afterReset),
			res.complete, res.countedBefore, res.counted, res.primary, res.undelivered) + "; non-304 calls by endpoint: " + callsByEndpoint(e.fake, ghLowToken)})
	return nil
}
