package main

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// manyResults are scenario 10's measurements.
type manyResults struct {
	ran                  bool
	streamBase, ctrlBase uint64 // RSS of fresh processes before the many Casts
	baseCasts            int
	streamBaseHeap       float64       // their Go heap in use; -1 unknown
	settle               time.Duration // the early memory readings' wait
	ctrlBaseHeap         float64
	sizes                []manySizeResult
}

// perCast is the RSS above the empty baseline per many-Cast, in bytes.
func perCast(rss, base uint64, n int) float64 {
	return (float64(rss) - float64(base)) / float64(max(n, 1))
}

// manyGoals: the 100,000-Cast goals, applied to the largest -many-casts
// size run. A size whose measurements are incomplete FAILs every goal.
func (r *results) manyGoals(add func(goal), skip func(string, string)) {
	const (
		tStream  = "streamer RSS ≤ 2 KiB per Cast above its empty baseline"
		tSynced  = "all-namespaces snapshot reaches synced in ≤ 3 s and ≤ 1.5× kube-apiserver's list of the same Casts"
		tCtrl    = "controller RSS ≤ 4 KiB per Cast above its empty baseline"
		tRestart = "every Cast reconciled after a restart; 0 GitHub calls for finished Casts"
	)
	m := r.many
	if !m.ran || len(m.sizes) == 0 {
		skip("Many Casts: streamer memory", tStream)
		skip("Many Casts: all-namespaces snapshot", tSynced)
		skip("Many Casts: controller memory", tCtrl)
		skip("Many Casts: controller restart", tRestart)
		return
	}
	s := m.sizes[len(m.sizes)-1]
	name := fmt.Sprintf("%s Casts", human(float64(s.n)))
	incomplete := ""
	if !s.ok {
		incomplete = fmt.Sprintf(" — incomplete measurement (stream %d, list %d, kube-apiserver %d of %d Casts; restart reached: %t)",
			s.streamEvents, s.listItems, s.apiItems, s.total, s.ctrlReached)
	}

	pc := perCast(s.streamRSS, m.streamBase, s.n)
	add(goal{name: name + ": streamer memory", target: tStream,
		measured: fmt.Sprintf("%s per Cast at rest (%s → %s) %s; %s after %s", kib(pc), mib(m.streamBase), mib(s.streamRSS), "("+margin(pc, 2048, true)+")",
			kib(perCast(s.streamEarly, m.streamBase, s.n)), dur(m.settle)) + incomplete,
		pass: s.ok && s.streamRSS > 0 && pc <= 2048})

	ratio := float64(s.synced) / float64(s.apiList)
	add(goal{name: name + ": all-namespaces snapshot", target: tSynced,
		measured: fmt.Sprintf("synced in %s %s, %.2f× kube-apiserver's %s %s", dur(s.synced), "("+marginText(float64(3*time.Second)/float64(s.synced))+")",
			ratio, dur(s.apiList), "("+marginText(1.5/ratio)+")") + incomplete,
		pass: s.ok && s.synced > 0 && s.apiList > 0 && s.synced <= 3*time.Second && ratio <= 1.5})

	pc = perCast(s.ctrlRSS, m.ctrlBase, s.n)
	add(goal{name: name + ": controller memory", target: tCtrl,
		measured: fmt.Sprintf("%s per Cast at rest (%s → %s) %s; %s after %s, peak (VmHWM) %s", kib(pc), mib(m.ctrlBase), mib(s.ctrlRSS), "("+margin(pc, 4096, true)+")",
			kib(perCast(s.ctrlEarly, m.ctrlBase, s.n)), dur(m.settle), kib(perCast(s.ctrlPeak, m.ctrlBase, s.n))) + incomplete,
		pass: s.ok && s.ctrlRSS > 0 && pc <= 4096})

	add(goal{name: name + ": controller restart", target: tRestart,
		measured: fmt.Sprintf("%.0f reconciles for %d Casts in %s (%s with GOGC=100); %d counted calls, %d for the %d finished Casts",
			s.reconciles, s.total, dur(s.ctrlAll), goDefaultTook(s), s.counted, s.finishedCalls, s.finished) + incomplete,
		pass: s.ok && s.ctrlReached && s.finishedCalls == 0})
}

// manyRow is the table row of one size.
func (b *bench) manyRow(e *manyEnv, s manySizeResult) row {
	kubectl := s.kubectlNote
	if kubectl == "" {
		kubectl = fmt.Sprintf("%s (%d names)", dur(s.kubectl), s.kubectlItems)
	}
	return row{scenario: "10. many Casts", design: fmt.Sprintf("%d%% finished, rest Queued, %d namespaces", int(b.cfg.many.finishedPc), b.cfg.many.namespaces),
		clients: s.n,
		throughput: fmt.Sprintf("created %s in %s (%s/s)", human(float64(s.added)), dur(s.createTook),
			human(float64(s.added)/s.createTook.Seconds())),
		note: fmt.Sprintf("%d Casts in the cluster. **Streamer** (fresh, ready %s): RSS %s (Go heap in use %s), empty %s (%s), %s per Cast; "+
			"all-namespaces stream: first byte %s, synced %s, %s in %d events; JSON list %s, %s, %d items. "+
			"**kube-apiserver** list (client-go, the anchor) %s for %d Casts; `kubectl get casts -A -o name` %s. "+
			"**Controller restart**: %.0f reconciles in %s, %d Casts written; RSS %s (Go heap in use %s), empty %s (%s), %s per Cast; GitHub fake: %d counted, %d not modified; "+
			"%d counted for the %d finished Casts; %s. **The same restart with GOGC=100** (Go's default; the controller's is 50): %s, RSS %s, %s per Cast",
			s.total, dur(s.streamReady), mib(s.streamRSS), mibf(s.streamHeap), mib(e.streamBase), mibf(b.res.many.streamBaseHeap), kib(perCast(s.streamRSS, e.streamBase, s.n)),
			dur(s.ttfb), dur(s.synced), bytesOf(s.streamBytes), s.streamEvents, dur(s.listTook), bytesOf(s.listBytes), s.listItems,
			dur(s.apiList), s.apiItems, kubectl,
			s.reconciles, dur(s.ctrlAll), s.written, mib(s.ctrlRSS), mibf(s.ctrlHeap), mib(e.ctrlBase), mibf(b.res.many.ctrlBaseHeap), kib(perCast(s.ctrlRSS, e.ctrlBase, s.n)),
			s.counted, s.notModified, s.finishedCalls, s.finished, s.byEndpoint,
			goDefaultTook(s), mib(s.goDefaultRSS), kib(perCast(s.goDefaultRSS, e.ctrlBase, s.n)))}
}

// goDefaultTook is how long the restart with GOGC=100 took to reconcile
// every Cast.
func goDefaultTook(s manySizeResult) string {
	if !s.goDefaultReached {
		return "not every Cast reconciled in " + dur(s.goDefaultAll)
	}
	return dur(s.goDefaultAll)
}

func mibf(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return mib(uint64(v))
}

// bytesOf prints a byte count in KiB or MiB.
func bytesOf(n int64) string {
	if n < 1<<20 {
		return kib(float64(n))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// callsSince is callsByEndpoint over the fake's requests from index mark.
func callsSince(fake *ghapitest.Server, identity string, mark int) string {
	n := map[string]int{}
	for _, r := range fake.Requests()[mark:] {
		if r.Identity != identity || r.Status == http.StatusNotModified {
			continue
		}
		n[endpointOf(r.Method, r.Path)]++
	}
	if len(n) == 0 {
		return "no counted calls"
	}
	keys := slices.Sorted(maps.Keys(n))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	return "by endpoint: " + strings.Join(parts, ", ")
}
