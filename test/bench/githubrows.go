package main

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// githubResults are scenario 6's measurements, one per sub-scenario.
type githubResults struct {
	attached ghAttachedResult
	storm    ghStormResult
	low      ghLowResult
}

// githubGoals turns scenario 6 into goal rows: what following Casts costs
// a credential's GitHub budget, and that the operator stays inside
// GitHub's primary and secondary limits on its own.
func (r *results) githubGoals(add func(goal), skip func(string, string)) {
	const (
		tPerHour  = "projected counted calls per hour ≤ 4,000"
		tStale    = "each Cast shows it within 5 minutes (max)"
		tPrimary  = "0 primary-limit 403s"
		tSecond   = "0 secondary-limit 403s"
		tDupes    = "0 duplicate dispatches (by cast_id)"
		tDispatch = "every Cast has status.runID ≤ 7 min after creation"
		tPerCast  = "counted calls per Cast ≤ 3, dispatch and completion included"
		tHooked   = "webhook Casts Succeeded before the reset"
		tConverge = "every Cast Succeeded ≤ 5 min after the reset"
	)
	if a := r.gh.attached; a.ran {
		name := fmt.Sprintf("GitHub: %s attached Casts, one token, no webhooks", human(float64(a.casts)))
		add(goal{name: name + ", quiet", target: tPerHour,
			measured: fmt.Sprintf("%s/h (%d counted, %d not modified in %s)", human(a.perHour), a.quietCounted, a.quietNotMod, a.quiet),
			pass:     a.perHour <= 4000})
		add(goal{name: name + ", every run starts", target: tStale,
			measured: fmt.Sprintf("%d/%d Running; p50 %s, p99 %s, max %s; %d counted calls (%.2f per changed Cast)",
				a.seen, a.changed, dur(a.p50), dur(a.p99), dur(a.max), a.changeCounted, float64(a.changeCounted)/float64(max(a.changed, 1))),
			pass: a.seen == a.changed && a.max <= 5*time.Minute})
		add(goal{name: name + ", whole run", target: tPrimary,
			measured: fmt.Sprintf("%d (of %d requests, %d counted)", a.primary, a.total.Requests, a.total.Counted), pass: a.primary == 0})
	} else {
		skip("GitHub: attached Casts, quiet", tPerHour)
		skip("GitHub: attached Casts, every run starts", tStale)
		skip("GitHub: attached Casts, whole run", tPrimary)
	}
	if s := r.gh.storm; s.ran {
		name := fmt.Sprintf("GitHub: dispatch storm of %s Casts", human(float64(s.casts)))
		add(goal{name: name, target: tSecond, measured: fmt.Sprint(s.secondary), pass: s.secondary == 0})
		add(goal{name: name, target: tDupes, measured: fmt.Sprintf("%d (%d 2xx dispatches for %d Casts)", s.dupes, s.dispatchCalls, s.casts),
			pass: s.dupes == 0})
		add(goal{name: name, target: tDispatch + " (78/min pacing makes ~6.4 min: thin margin)",
			measured: fmt.Sprintf("%d/%d in %s", s.dispatched, s.casts, dur(s.dispatchTook)),
			pass:     s.allDispatched && s.dispatchTook <= ghStormGoal})
		add(goal{name: name + ", lifecycles with webhooks flowing", target: tPerCast,
			measured: fmt.Sprintf("%.2f (%d counted; %d/%d Succeeded+Complete)", float64(s.counted)/float64(s.casts), s.counted, s.complete, s.casts),
			pass:     s.allComplete && s.counted <= 3*s.casts})
	} else {
		skip("GitHub: dispatch storm", tSecond)
		skip("GitHub: dispatch storm", tDupes)
		skip("GitHub: dispatch storm", tDispatch)
		skip("GitHub: dispatch storm, lifecycles with webhooks flowing", tPerCast)
	}
	if l := r.gh.low; l.ran {
		name := fmt.Sprintf("GitHub: %d calls left, %d Casts", l.left, l.casts)
		add(goal{name: name, target: tPrimary, measured: fmt.Sprintf("%d (%d counted)", l.primary, l.counted), pass: l.primary == 0})
		add(goal{name: name, target: tHooked, measured: fmt.Sprintf("%d/%d after %s (reset %s after creation)", l.hookedDone, l.hooked, dur(l.hookedTook), l.window),
			pass: l.hookedBeforeReset})
		add(goal{name: name, target: tConverge, measured: fmt.Sprintf("%d/%d after %s", l.converged, l.casts, dur(l.afterReset)),
			pass: l.allConverged && l.afterReset <= ghLowConverge})
	} else {
		skip("GitHub: low credential", tPrimary)
		skip("GitHub: low credential", tHooked)
		skip("GitHub: low credential", tConverge)
	}
}

// callsByEndpoint sums the identity's requests the fake answered with
// anything but 304 (what cost budget, or was refused), by endpoint, so a
// goal missed by a few calls per Cast says which calls they were.
func callsByEndpoint(fake *ghapitest.Server, identity string) string {
	n := map[string]int{}
	for _, r := range fake.Requests() {
		if r.Identity != identity || r.Status == http.StatusNotModified {
			continue
		}
		n[endpointOf(r.Method, r.Path)]++
	}
	keys := slices.Sorted(maps.Keys(n))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	return strings.Join(parts, ", ")
}

func endpointOf(method, path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	last := seg[len(seg)-1]
	switch {
	case method != http.MethodGet:
		return strings.ToLower(method) + " " + last
	case last == "jobs", last == "artifacts":
		return last
	case last == "runs" && slices.Contains(seg, "workflows"):
		return "workflow runs"
	case last == "runs":
		return "repo runs"
	case len(seg) > 1 && seg[len(seg)-2] == "runs":
		return "get run"
	}
	return path
}

// dumpRequests writes the fake's request log, one line per request, to
// the run's temporary folder (kept with -keep-logs), so a missed GitHub
// goal can be traced to the calls behind it.
func dumpRequests(fake *ghapitest.Server, dir string) error {
	var b strings.Builder
	b.WriteString("at\tidentity\tmethod\tpath\tquery\tif_none_match\tstatus\n")
	for _, r := range fake.Requests() {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%t\t%d\n", r.At.UTC().Format("15:04:05.000"), r.Identity, r.Method, r.Path, r.Query, r.IfNoneMatch != "", r.Status)
	}
	return os.WriteFile(filepath.Join(dir, "github-requests.tsv"), []byte(b.String()), 0o644)
}
