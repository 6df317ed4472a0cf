package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// designSatFloor is the bare SSE fan-out of floor.go in the saturation
// rows (designFloor is the one-watch latency floor of the delivery rows).
const designSatFloor = "floor: bare SSE fan-out"

// satResults is scenario 7's outcome.
type satResults struct {
	curves []satCurve
	took   time.Duration
}

func (s satResults) curve(design string, clients int) (satCurve, bool) {
	for _, c := range s.curves {
		if c.design == design && c.clients == clients {
			return c, true
		}
	}
	return satCurve{}, false
}

// satRow is a curve's line in the results table: its highest sustained
// step.
func satRow(c satCurve) row {
	r := row{scenario: "7. saturation", design: c.design, clients: c.clients, throughput: "none sustained", note: c.note}
	best, knee := c.best()
	if best == nil {
		if k := c.kneeStep(); k != nil {
			r.note += fmt.Sprintf("; not even %.1f writes/s sustained: %s", k.rate, k.why)
		}
		return r
	}
	bound := ""
	if !knee {
		bound = "≥ "
	}
	r.lat, r.hasLat = best.sum, true
	r.throughput = fmt.Sprintf("**%s%s deliveries/s sustained** (%.1f writes/s)", bound, human(best.delivered), best.rate)
	if c.design == designPeer {
		r.api = best.server
	} else {
		r.proc, r.procName, r.api = best.server, strings.SplitN(c.design, ":", 2)[0], best.api
	}
	r.note += fmt.Sprintf("; at the highest sustained step: %s µs server CPU per delivery, load generator %s cores", usText(best.usPerDelivery()), cores(best.self, best.wall))
	if above := c.kneeStep(); above != nil {
		r.note += fmt.Sprintf("; %.1f writes/s not sustained: %s", above.rate, above.why)
	} else {
		r.note += "; stopped at the last step or the writer's limit, not at a knee"
	}
	return r
}

// kneeStep is the lowest confirmed failure above the best step, if any.
func (c satCurve) kneeStep() *satPoint {
	best, knee := c.best()
	if !knee {
		return nil
	}
	var out *satPoint
	for i := range c.points {
		p := &c.points[i]
		if !p.pass && !strings.HasPrefix(p.why, retriedMark) && (best == nil || p.rate > best.rate) && (out == nil || p.rate < out.rate) {
			out = p
		}
	}
	return out
}

func usText(us float64) string {
	if us < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", us)
}

// cores is a process's CPU use over wall as a number of cores.
func cores(u usage, wall time.Duration) string {
	if !u.OK || wall <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", u.CPU/wall.Seconds())
}

// satTable is the curve: every step of every climb, so the knee shows.
func (r *results) satTable() string {
	if len(r.sat.curves) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Saturation curve\n\nEach step writes for %s then waits ≤ 2 s for stragglers; a step is sustained when every expected event was read (or superseded by a later write of its Cast), no write failed and p99 ≤ %s. Server CPU: the streamer's, the floor's, or kube-apiserver's for the watch design (which includes serving the writes). Load generator: the bench process's CPU over the step, in cores (the machine has %d). Scenario 7 took %s.\n\n",
		r.cfg.sat.window, dur(r.cfg.sat.p99), runtime.NumCPU(), r.sat.took.Round(time.Second))
	b.WriteString("| Clients | Design | writes/s | offered deliveries/s | read/s | p50 | p99 | events | server CPU s | µs per delivery | kube-apiserver CPU s | load generator cores | sustained |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|---|\n")
	for _, c := range r.sat.curves {
		if len(c.points) == 0 {
			fmt.Fprintf(&b, "| %s | %s | — | — | — | — | — | — | — | — | — | — | %s |\n", human(float64(c.clients)), c.design, c.note)
		}
		for _, p := range c.points {
			verdict := "yes"
			if !p.pass {
				verdict = "**no**: " + p.why
			}
			fmt.Fprintf(&b, "| %s | %s | %.1f | %s | %s | %s | %s | %.1f%% | %s | %s | %s | %s | %s |\n",
				human(float64(c.clients)), c.design, p.rate, human(p.offered), human(p.delivered), dur(p.sum.P50), dur(p.sum.P99),
				p.comp.pct(), cpuText(p.server), usText(p.usPerDelivery()), cpuText(p.api), cores(p.self, p.wall), verdict)
		}
	}
	return b.String()
}

func cpuText(u usage) string {
	if !u.OK {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", u.CPU)
}

// satGoalSize is the size the saturation goals are stated for: 10,000
// clients, or with other -saturation-clients the largest size the watch
// design ran at.
func (r *results) satGoalSize() int {
	sizes := r.cfg.sat.clients
	if slices.Contains(sizes, 10000) {
		return 10000
	}
	best := sizes[0]
	for _, n := range sizes {
		if n <= r.cfg.peerMax && n > best {
			best = n
		}
	}
	return best
}

// sustained is a curve's highest sustained deliveries/s; exact when the
// climb reached its knee, a lower bound otherwise. ok is false without a
// curve.
func sustained(c satCurve) (rate float64, knee, ok bool) {
	if len(c.points) == 0 {
		return 0, false, false
	}
	best, knee := c.best()
	if best == nil {
		return 0, knee, true
	}
	return best.delivered, knee, true
}

func boundText(rate float64, knee bool) string {
	if knee {
		return human(rate) + "/s"
	}
	return "≥ " + human(rate) + "/s (no knee reached)"
}

// saturationGoals are scenario 7's rows.
func (r *results) saturationGoals(add func(goal), skip func(string, string)) {
	N := r.satGoalSize()
	offered := 3 * float64(r.cfg.writesPerSec) * float64(N) / float64(r.cfg.namespaces)
	nameS := fmt.Sprintf("Saturation, %s clients: streamer", human(float64(N)))
	targetS := fmt.Sprintf("highest sustained deliveries/s ≥ 3× the %s-client row's offered load (%s/s) or ≥ 80%% of the floor's, whichever is lower", human(float64(N)), human(offered))
	nameP := fmt.Sprintf("Saturation, %s clients: watch per client", human(float64(N)))
	targetP := "highest sustained deliveries/s ≤ ⅓ of the streamer's"
	nameC := fmt.Sprintf("Saturation, %s clients: CPU per delivery", human(float64(N)))
	targetC := "streamer ≤ 2× the floor's, at the highest step both sustained"
	sc, okS := r.sat.curve(designStreamer, N)
	fc, okF := r.sat.curve(designSatFloor, N)
	pc, okP := r.sat.curve(designPeer, N)
	if !okS || !okF {
		skip(nameS, targetS)
		skip(nameP, targetP)
		skip(nameC, targetC)
		return
	}
	s, sKnee, sOK := sustained(sc)
	f, fKnee, fOK := sustained(fc)
	// 80% of a floor that never reached its knee is no bound: then only the
	// absolute target can pass.
	limit := offered
	if fKnee {
		limit = min(offered, 0.8*f)
	}
	add(goal{name: nameS, target: targetS,
		measured: fmt.Sprintf("streamer %s vs floor %s; target %s/s (%s)", boundText(s, sKnee), boundText(f, fKnee), human(limit), margin(s, limit, false)),
		pass:     sOK && fOK && s > 0 && s >= limit})

	if !okP || len(pc.points) == 0 {
		add(goal{name: nameP, target: targetP, measured: "no measurement: " + pc.note})
	} else {
		p, pKnee, _ := sustained(pc)
		upper := p
		if best, _ := pc.best(); best == nil {
			// It sustained no step: its capacity is below the lowest tried.
			upper = pc.points[0].offered
			for _, x := range pc.points {
				upper = min(upper, x.offered)
			}
		}
		add(goal{name: nameP, target: targetP,
			measured: fmt.Sprintf("watch per client %s vs streamer %s (%.2f×; %s)", boundText(upper, pKnee), boundText(s, sKnee), upper/max(s, 1), margin(upper, s/3, true)),
			pass:     pKnee && s > 0 && 3*upper <= s})
	}

	// CPU per delivery at the highest step index both sustained: the
	// ladders are the same, so equal steps are equal offered loads.
	measured, pass := "no step sustained by both", false
	for i := min(len(sc.points), len(fc.points)) - 1; i >= 0; i-- {
		a, b := sc.points[i], fc.points[i]
		if !a.pass || !b.pass {
			continue
		}
		ua, ub := a.usPerDelivery(), b.usPerDelivery()
		measured = fmt.Sprintf("%s µs vs %s µs at %.1f writes/s (%.2f×; %s)", usText(ua), usText(ub), a.rate, ua/ub, margin(ua, 2*ub, true))
		pass = ua > 0 && ub > 0 && ua <= 2*ub
		break
	}
	add(goal{name: nameC, target: targetC, measured: measured, pass: pass})
}

// largeDeliveryGoal is "10,000 clients at 50 writes/s: p99 ≤ 100 ms", on
// the delivery row of the largest -clients size.
func (r *results) largeDeliveryGoal(add func(goal), skip func(string, string)) {
	large := r.cfg.clients[len(r.cfg.clients)-1]
	name := fmt.Sprintf("%s clients at %d writes/s", human(float64(large)), r.cfg.writesPerSec)
	target := "p99 ≤ 100 ms, every event, load generator on the same machine"
	d, ok := r.delivery[key(designStreamer, large)]
	if !ok {
		skip(name, target)
		return
	}
	add(goal{name: name, target: target,
		measured: fmt.Sprintf("p99 %s (%s); %s", dur(d.sum.P99), margin(ms(d.sum.P99), 100, true), d.comp),
		pass:     d.sum.valid() && d.comp.complete() && d.sum.P99 <= 100*time.Millisecond})
}
