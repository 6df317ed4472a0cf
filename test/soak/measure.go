package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spell-platform/cast-operator/test/faults"
)

// tolerance is how far above its baseline a resource may stay once the
// clients are gone. Goroutines and descriptors get a small absolute slack
// (a reconnecting kube-apiserver watch, an HTTP/2 ping); the live heap a
// relative one, for caches that are bounded by design (token and access
// review caches, rate-limit buckets, tombstones of deleted Casts).
type tolerance struct {
	goroutines int
	fds        int
	heapFrac   float64
	heapMin    uint64
}

var defaultTolerance = tolerance{goroutines: 10, fds: 10, heapFrac: 0.25, heapMin: 4 << 20}

// verdict is one resource's outcome.
type verdict struct {
	name            string
	baseline, after uint64
	limit           uint64
	rule            string
	info            bool // reported, not judged
}

func (v verdict) ok() bool { return v.info || v.after <= v.limit }

func (v verdict) String() string {
	status := "PASS"
	switch {
	case v.info:
		status = "INFO"
	case !v.ok():
		status = "FAIL"
	}
	f := func(n uint64) string { return fmt.Sprint(n) }
	if v.name == "heap_live" || v.name == "rss" {
		f = faults.MiB
	}
	if v.info {
		return fmt.Sprintf("%s %-10s baseline %-9s after %-9s (%s)", status, v.name, f(v.baseline), f(v.after), v.rule)
	}
	return fmt.Sprintf("%s %-10s baseline %-9s after %-9s limit %-9s (%s)", status, v.name, f(v.baseline), f(v.after), f(v.limit), v.rule)
}

func judge(base, after faults.Resources, tol tolerance) []verdict {
	heapSlack := max(uint64(float64(base.HeapLive)*tol.heapFrac), tol.heapMin)
	return []verdict{
		{name: "goroutines", baseline: uint64(base.Goroutines), after: uint64(after.Goroutines),
			limit: uint64(base.Goroutines + tol.goroutines), rule: fmt.Sprintf("baseline + %d", tol.goroutines)},
		{name: "fds", baseline: uint64(base.FDs), after: uint64(after.FDs),
			limit: uint64(base.FDs + tol.fds), rule: fmt.Sprintf("baseline + %d", tol.fds)},
		{name: "heap_live", baseline: base.HeapLive, after: after.HeapLive, limit: base.HeapLive + heapSlack,
			rule: fmt.Sprintf("baseline + max(%.0f%%, %s); live heap after a GC", tol.heapFrac*100, faults.MiB(tol.heapMin))},
		{name: "rss", baseline: base.RSS, after: after.RSS, info: true,
			rule: "not judged: the Go runtime returns freed memory to the OS lazily"},
	}
}

// quiesced reads the streamer's resources once its runtime has finished
// gcs collections since the call, so heap figures are live data rather
// than garbage awaiting the next GC. An idle process may not collect for
// minutes; each reading scrapes /metrics, which allocates, so polling
// brings the next GC on without touching the code under test.
func quiesced(ctx context.Context, pid int, metricsURL string, gcs uint64, timeout time.Duration) (faults.Resources, error) {
	first, err := faults.ReadResources(pid, metricsURL)
	if err != nil {
		return first, err
	}
	deadline := time.Now().Add(timeout)
	for {
		r, err := faults.ReadResources(pid, metricsURL)
		if err != nil || r.GCCycles >= first.GCCycles+gcs {
			return r, err
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("the streamer ran no %d garbage collections in %s", gcs, timeout)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// settle measures until every judged resource is back within tolerance or
// the time is up, and returns the last reading and its verdicts.
func settle(ctx context.Context, pid int, metricsURL string, base faults.Resources, cfg config) (faults.Resources, []verdict, time.Duration, error) {
	start := time.Now()
	for {
		r, err := quiesced(ctx, pid, metricsURL, 2, time.Minute)
		if err != nil {
			return r, nil, time.Since(start), err
		}
		vs := judge(base, r, cfg.tol)
		ok := true
		for _, v := range vs {
			ok = ok && v.ok()
		}
		if ok || time.Since(start) > cfg.settle {
			return r, vs, time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return r, vs, time.Since(start), ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// peak keeps the highest reading of each resource during the soak.
func peak(p *faults.Resources, r faults.Resources) {
	p.FDs = max(p.FDs, r.FDs)
	p.RSS = max(p.RSS, r.RSS)
	p.Goroutines = max(p.Goroutines, r.Goroutines)
	p.HeapAlloc = max(p.HeapAlloc, r.HeapAlloc)
	p.HeapLive = max(p.HeapLive, r.HeapLive)
	p.GCCycles = max(p.GCCycles, r.GCCycles)
}
