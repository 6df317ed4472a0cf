package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

const (
	ghStormToken = "bench-token-storm"
	ghStormRepo  = "storm-org/spells"
	// ghStormGoal is the dispatch goal: 500 writes at GitHub's 80 a minute
	// take 6.25 minutes, at the operator's 78 a minute 6.4.
	ghStormGoal = 7 * time.Minute
)

// ghStormResult is scenario 6b: a dispatch storm, then webhook lifecycles.
type ghStormResult struct {
	ran                         bool
	casts                       int
	dispatched                  int // Casts with status.runID at the end of the wait
	dispatchTook                time.Duration
	allDispatched               bool
	dispatchCalls, dupes        int // 2xx dispatches, cast_ids dispatched more than once
	secondary, primary, counted int
	notModified                 int
	undelivered                 int
	complete                    int
	doneTook                    time.Duration // from the first lifecycle delivery
	allComplete                 bool
}

// ghStorm creates the Casts at once with a fresh token, as a burst of
// users would. Like GitHub, the harness sends each new run's `requested`
// delivery as soon as the fake created it, so the repository's webhook is
// seen to flow from the first dispatch on. Once every Cast has its run,
// the fake finishes the runs and the other four deliveries of each follow.
func (b *bench) ghStorm(ctx context.Context, e *ghEnv) error {
	g := b.cfg.gh
	res := &b.res.gh.storm
	*res = ghStormResult{casts: g.storm}
	if err := b.tokenSecret(ctx, ghStormNS, ghStormToken); err != nil {
		return err
	}
	t0 := time.Now()
	w := sample(b.cl.apiPID, e.ctrl.pid())

	// The requested deliveries, sent while the storm goes on.
	hookCtx, stopHooks := context.WithCancel(ctx)
	var hooks sync.WaitGroup
	var undelivered int
	hooks.Go(func() { undelivered = e.requestedDeliveries(hookCtx, ghStormRepo, t0) })
	defer func() { stopHooks(); hooks.Wait() }()

	start := time.Now()
	err := b.createCasts(ctx, ghStormNS, g.storm, func(i int) castv1alpha1.Cast {
		return castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("storm-%d", i)},
			Spec: castv1alpha1.CastSpec{Repository: ghStormRepo, Workflow: "cast.yml"}}
	})
	if err != nil {
		return err
	}
	hasRun := func(c *castv1alpha1.Cast) bool { return c.Status.RunID != 0 }
	at, items, err := b.waitNS(ctx, ghStormNS, 500*time.Millisecond, start.Add(ghStormGoal+2*time.Minute), all(g.storm, hasRun))
	if err != nil && !errors.Is(err, errDeadline) {
		return fmt.Errorf("waiting for dispatches: %w", err)
	}
	res.dispatched, res.dispatchTook, res.allDispatched = count(items, hasRun), at.Sub(start), err == nil
	b.progress("github 6b: %d/%d dispatched after %s", res.dispatched, g.storm, res.dispatchTook.Round(time.Second))
	// The watcher sends what the last dispatches created, then stops.
	stopHooks()
	hooks.Wait()

	// The runs finish on GitHub, then their remaining deliveries arrive.
	now := time.Now()
	stamp := now.UTC().Truncate(time.Second)
	var ds [4][]delivery
	for i := range items {
		id := items[i].Status.RunID
		if id == 0 || !completeRun(e.fake, id, stamp) {
			continue
		}
		for k, d := range lifecycleOf(ghStormRepo, id, i, t0)[1:] {
			ds[k] = append(ds[k], d)
		}
	}
	lifeStart := time.Now()
	for k := range ds {
		undelivered += e.send(ctx, ds[k], b.cfg.senders)
	}
	at, items, err = b.waitNS(ctx, ghStormNS, 500*time.Millisecond, lifeStart.Add(3*time.Minute), all(g.storm, succeededComplete))
	if err != nil && !errors.Is(err, errDeadline) {
		return fmt.Errorf("waiting for the lifecycles: %w", err)
	}
	us := w.end()
	res.complete, res.doneTook, res.allComplete = count(items, succeededComplete), at.Sub(lifeStart), err == nil
	res.undelivered = undelivered

	perCast := map[string]int{}
	for _, d := range e.fake.Dispatches() {
		if d.Repository == ghStormRepo && d.Status >= 200 && d.Status < 300 {
			res.dispatchCalls++
			if perCast[d.Inputs["cast_id"]]++; perCast[d.Inputs["cast_id"]] == 2 {
				res.dupes++
			}
		}
	}
	st := e.fake.StatsFor(ghStormToken)
	res.secondary, res.primary, res.counted, res.notModified = st.SecondaryLimited, st.PrimaryLimited, st.Counted, st.NotModified
	res.ran = true
	b.res.add(row{scenario: "6. github", design: "dispatch storm, then webhooks", clients: g.storm,
		throughput: fmt.Sprintf("%.1f dispatches/min", float64(res.dispatched)/res.dispatchTook.Minutes()),
		proc:       us[1], procName: "controller", api: us[0],
		note: fmt.Sprintf("%d/%d dispatched **%s** after creation (%d 2xx dispatches, %d cast_ids twice, %d secondary-limited); lifecycles: %d/%d Succeeded+Complete %s after the first delivery (%d deliveries never taken); token: %d counted (%.2f per Cast), %d not modified, %d primary-limited",
			res.dispatched, g.storm, dur(res.dispatchTook), res.dispatchCalls, res.dupes, res.secondary,
			res.complete, g.storm, dur(res.doneTook), res.undelivered, res.counted, float64(res.counted)/float64(g.storm),
			res.notModified, res.primary) + "; non-304 calls by endpoint: " + callsByEndpoint(e.fake, ghStormToken)})
	return nil
}

// requestedDeliveries sends the `requested` delivery of every run the fake
// creates in repository by dispatch, until ctx ends; it returns how many
// no Cast took.
func (e *ghEnv) requestedDeliveries(ctx context.Context, repository string, t0 time.Time) int {
	sent := map[int64]bool{}
	failed := 0
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		var ds []delivery
		for _, d := range e.fake.Dispatches() {
			if d.Repository == repository && d.RunID != 0 && !sent[d.RunID] {
				sent[d.RunID] = true
				ds = append(ds, lifecycleOf(repository, d.RunID, len(sent), t0)[0])
			}
		}
		// A fresh context: a delivery already due goes out even as the
		// harness stops watching for new runs.
		failed += e.send(context.WithoutCancel(ctx), ds, 4)
		if ctx.Err() != nil {
			return failed
		}
		select {
		case <-ctx.Done(): // one more pass for the last runs created
		case <-t.C:
		}
	}
}
