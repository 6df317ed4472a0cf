package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	scenario, design string
	clients          int
	lat              summary
	hasLat           bool
	throughput       string
	proc             usage
	procName         string // "streamer", "controller" or "" (not involved)
	api              usage
	note             string
}

type idleResult struct {
	admitted  int
	perClient float64 // bytes
	ok        bool    // /proc was read before and after
}

type deliveryResult struct {
	sum                summary
	comp               completeness
	connected, dropped int
}

type stallResult struct {
	base, stalled       summary
	baseP99s, stallP99s []time.Duration
	n, closed, clients  int
	incomplete          []string // accounting of windows that missed events
}

func (s *stallResult) note(c completeness) {
	if !c.complete() {
		s.incomplete = append(s.incomplete, c.String())
	}
}

type stormResult struct {
	kind                          string
	clients, admitted             int
	took                          time.Duration
	rate                          float64
	tokens, users, pairs, windows int
	tokenReviews, sars            int
	tooMany, refused              int
	missing                       []string // metric series absent from the scrape after the storm
}

type controllerResult struct {
	replicas                           int
	lifecycles, posts, retries, failed int
	done, sent                         time.Duration
	counted, attachCounted             int // GitHub fake calls that cost budget: in all, and before the deliveries
	hooks                              summary
}

type goal struct {
	name, target, measured string
	pass, skipped          bool
}

type curve struct {
	label string
	pts   [][2]float64 // latency ms, cumulative fraction
	p50   float64
	p99   float64
}

type results struct {
	cfg          config
	rows         []row
	idle         map[int]idleResult
	delivery     map[string]deliveryResult
	stallRes     stallResult
	storms       []stormResult
	ctrl         []controllerResult
	gh           githubResults
	screen       []screenResult
	idleCasts    []idleRun
	many         manyResults
	sat          satResults
	goals        []goal
	curves       []curve
	streamerArgs []string
	elapsed      time.Duration
}

func newResults(cfg config) *results {
	return &results{cfg: cfg, idle: map[int]idleResult{}, delivery: map[string]deliveryResult{}}
}

func (r *results) add(x row) { r.rows = append(r.rows, x) }

func (r *results) cdf(label string, h *hist) {
	r.curves = append(r.curves, curve{label: label, pts: h.cdf(),
		p50: ms(h.quantile(0.5)), p99: ms(h.quantile(0.99))})
}

// evaluate turns the measurements into the goal rows. Goals are stated for
// 1,000 and 10,000 clients; with other -clients they apply to the smallest
// and the largest size run. A goal whose measurement is missing, empty or
// incomplete fails.
func (r *results) evaluate() {
	cfg := r.cfg
	small, large := cfg.clients[0], cfg.clients[len(cfg.clients)-1]
	add := func(g goal) { r.goals = append(r.goals, g) }
	skip := func(name, target string) { add(goal{name: name, target: target, measured: "not run", skipped: true}) }

	name := fmt.Sprintf("Delivery, %s clients", human(float64(small)))
	if d, ok := r.delivery[key(designStreamer, small)]; ok {
		m := marginText(tightest(ratio(ms(d.sum.P50), 20, true), ratio(ms(d.sum.P99), 80, true)))
		add(goal{name: name, target: "p50 ≤ 20 ms and p99 ≤ 80 ms, every event",
			measured: fmt.Sprintf("p50 %s, p99 %s (%s); %s", dur(d.sum.P50), dur(d.sum.P99), m, d.comp),
			pass:     d.sum.valid() && d.comp.complete() && d.sum.P50 <= 20*time.Millisecond && d.sum.P99 <= 80*time.Millisecond})
	} else {
		skip(name, "p50 ≤ 20 ms and p99 ≤ 80 ms")
	}
	name = fmt.Sprintf("Delivery vs watch per client, %s clients", human(float64(small)))
	d, ok1 := r.delivery[key(designStreamer, small)]
	p, ok2 := r.delivery[key(designPeer, small)]
	if ok1 && ok2 {
		measured := fmt.Sprintf("%s vs %s (%.2f×, %s)", dur(d.sum.P99), dur(p.sum.P99), float64(d.sum.P99)/float64(p.sum.P99),
			margin(ms(d.sum.P99), ms(p.sum.P99)/3, true))
		if m, ok := r.delivery[key(designPeerMux, small)]; ok && m.sum.P99 > 0 {
			measured += fmt.Sprintf("; vs HTTP/2-multiplexed watches %s (%.2f×)", dur(m.sum.P99), float64(d.sum.P99)/float64(m.sum.P99))
		}
		if !d.comp.complete() {
			measured += "; streamer: " + d.comp.String()
		}
		add(goal{name: name, target: "streamer p99 ≤ ⅓ of the watch-per-client p99 (one connection per client)",
			measured: measured, pass: d.sum.valid() && p.sum.valid() && d.comp.complete() && 3*d.sum.P99 <= p.sum.P99})
	} else {
		skip(name, "streamer p99 ≤ ⅓ of the watch-per-client p99")
	}
	name = fmt.Sprintf("%s clients on one replica", human(float64(large)))
	if d, ok := r.delivery[key(designStreamer, large)]; ok {
		m := marginText(tightest(ratio(ms(d.sum.P50), 150, true), ratio(ms(d.sum.P99), 500, true)))
		add(goal{name: name, target: "all connected, p50 ≤ 150 ms, p99 ≤ 500 ms, every event",
			measured: fmt.Sprintf("%d/%d connected, %d dropped; p50 %s, p99 %s (%s); %s", d.connected, large, d.dropped, dur(d.sum.P50), dur(d.sum.P99), m, d.comp),
			pass: d.connected == large && d.dropped == 0 && d.sum.valid() && d.comp.complete() &&
				d.sum.P50 <= 150*time.Millisecond && d.sum.P99 <= 500*time.Millisecond})
	} else {
		skip(name, "all connected, p50 ≤ 150 ms, p99 ≤ 500 ms")
	}
	r.largeDeliveryGoal(add, skip)
	r.saturationGoals(add, skip)
	name = fmt.Sprintf("Idle memory, %s clients", human(float64(large)))
	if m, ok := r.idle[large]; ok {
		measured := "no reading of the streamer's /proc"
		if m.ok {
			measured = fmt.Sprintf("%s per client (%s)", kib(m.perClient), margin(m.perClient, 32<<10, true))
		}
		add(goal{name: name, target: "≤ 32 KiB streamer RSS per plain-HTTP client",
			measured: measured, pass: m.ok && m.admitted == large && m.perClient <= 32<<10})
	} else {
		skip(name, "≤ 32 KiB streamer RSS per plain-HTTP client")
	}
	r.stormGoals(add, skip)
	if s := r.stallRes; s.n > 0 {
		b, st := median(s.baseP99s), median(s.stallP99s)
		rise := float64(st)/float64(max(b, 1)) - 1
		measured := fmt.Sprintf("median window p99 %s without (%s) → %s with (%s): %+.1f%% (%s); %d/%d disconnected",
			dur(b), durs(s.baseP99s), dur(st), durs(s.stallP99s), 100*rise, margin(ms(st), 1.1*ms(b), true), s.closed, s.n)
		for _, c := range s.incomplete {
			measured += "; a window: " + c
		}
		add(goal{name: fmt.Sprintf("Slow consumers, %.0f%% of %s stalled", cfg.stallPercent, human(float64(s.clients))),
			target:   "others' p99 rises ≤ 10%, every event; stalled ones disconnected (slow_consumer)",
			measured: measured,
			pass: s.base.valid() && s.stalled.valid() && allPositive(s.baseP99s) && allPositive(s.stallP99s) &&
				len(s.incomplete) == 0 && rise <= 0.10 && s.closed >= s.n})
	} else {
		skip("Slow consumers", "others' p99 rises ≤ 10%; stalled ones disconnected (slow_consumer)")
	}
	for _, c := range r.ctrl {
		where := ""
		if c.replicas > 1 {
			where = fmt.Sprintf(", spread over %d replicas", c.replicas)
		}
		add(goal{name: fmt.Sprintf("Controller, %s lifecycles (%s webhooks%s)", human(float64(c.lifecycles)), human(float64(c.posts)), where),
			target: "all terminal and correct ≤ 30 s", measured: fmt.Sprintf("%s (%s)", dur(c.done), margin(c.done.Seconds(), 30, true)),
			pass: c.failed == 0 && c.done > 0 && c.done <= 30*time.Second})
		add(goal{name: "Webhook response time, news stored" + where, target: "p99 ≤ 50 ms",
			measured: fmt.Sprintf("p50 %s, p99 %s (%s)", dur(c.hooks.P50), dur(c.hooks.P99), margin(ms(c.hooks.P99), 50, true)),
			pass:     c.hooks.valid() && c.hooks.P99 <= 50*time.Millisecond})
	}
	if len(r.ctrl) == 0 {
		skip("Controller lifecycles", "all terminal and correct ≤ 30 s")
		skip("Webhook response time", "p99 ≤ 50 ms")
	}
	r.githubGoals(add, skip)
	r.screenGoals(add, skip)
	r.idleCastsGoals(add, skip)
	r.manyGoals(add, skip)
}

func (r *results) stormGoals(add func(goal), skip func(string, string)) {
	if len(r.storms) == 0 {
		skip("Connection storm", "≥ 500 new authenticated streams/s")
		skip("TokenReviews", "≤ 1 per distinct token per cache TTL (10 s)")
		skip("SubjectAccessReviews", "≤ 1 per (user, scope, verb) per TTL: 2 per (user, scope)")
		return
	}
	var rate, tr, sar []string
	passRate, passTR, passSAR := true, true, true
	for _, s := range r.storms {
		rate = append(rate, fmt.Sprintf("%s: %s/s (%d/%d, %d×429; %s)", s.kind, human(s.rate), s.admitted, s.clients, s.tooMany, margin(s.rate, 500, false)))
		passRate = passRate && s.rate >= 500 && s.admitted == s.clients
		// A review count is only a measurement if its series was scraped.
		measured := len(s.missing) == 0
		miss := ""
		if !measured {
			miss = " (NO SERIES: " + strings.Join(s.missing, ", ") + ")"
		}
		trBound := s.tokens * s.windows
		tr = append(tr, fmt.Sprintf("%s: %d for %d tokens (bound %d; %s)%s", s.kind, s.tokenReviews, s.tokens, trBound, margin(float64(s.tokenReviews), float64(trBound), true), miss))
		passTR = passTR && measured && s.tokenReviews <= trBound
		sarBound := 2 * s.pairs * s.windows
		sar = append(sar, fmt.Sprintf("%s: %d for %d pairs (bound %d; %s)%s", s.kind, s.sars, s.pairs, sarBound, margin(float64(s.sars), float64(sarBound), true), miss))
		passSAR = passSAR && measured && s.sars <= sarBound
	}
	add(goal{name: fmt.Sprintf("Connection storm, %s clients at once", human(float64(r.cfg.stormClients))),
		target: "≥ 500 new authenticated streams/s", measured: strings.Join(rate, "; "), pass: passRate})
	add(goal{name: "TokenReviews in the storms", target: "≤ 1 per distinct token per cache TTL (10 s)",
		measured: strings.Join(tr, "; "), pass: passTR})
	add(goal{name: "SubjectAccessReviews in the storms", target: "≤ 1 per (user, scope, verb) per TTL: 2 per (user, scope), list + watch",
		measured: strings.Join(sar, "; "), pass: passSAR})
}

// markdown is the table `make bench` prints.
func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Results\n\n")
	b.WriteString("| Scenario | Design | Clients | p50 | p99 | max | Throughput | Streamer / controller: CPU s, peak RSS | kube-apiserver: CPU s, peak RSS | Notes |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|---|---|---|---|\n")
	for _, x := range r.rows {
		p50, p99, mx := "—", "—", "—"
		if x.hasLat && x.lat.N > 0 {
			p50, p99, mx = dur(x.lat.P50), dur(x.lat.P99), dur(x.lat.Max)
		}
		proc := "—"
		if x.procName != "" {
			proc = x.procName + ": " + x.proc.String()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.scenario, x.design,
			human(float64(x.clients)), p50, p99, mx, x.throughput, proc, x.api.String(), x.note)
	}
	fmt.Fprintf(&b, "\n### Goals\n\n| Goal | Target | Measured | Result |\n|---|---|---|---|\n")
	for _, g := range r.goals {
		res := "FAIL"
		switch {
		case g.skipped:
			res = "SKIPPED"
		case g.pass:
			res = "PASS"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | **%s** |\n", g.name, g.target, g.measured, res)
	}
	b.WriteString(r.satTable())
	return b.String()
}

// ratio is how far measured is inside limit, as a factor: limit ÷ measured
// when lower is better, measured ÷ limit otherwise; ≥ 1 meets the limit.
// It is NaN when there is nothing to judge (a negative measurement or limit).
func ratio(measured, limit float64, lowerIsBetter bool) float64 {
	switch {
	case measured < 0 || limit < 0 || math.IsNaN(measured) || math.IsNaN(limit):
		return math.NaN()
	case lowerIsBetter && measured == 0:
		return math.Inf(1)
	case lowerIsBetter:
		return limit / measured
	case limit == 0:
		return math.Inf(1)
	}
	return measured / limit
}

// tightest is the smallest of several ratios (NaN if any is NaN): a goal
// with several bounds has the margin of its nearest one.
func tightest(rs ...float64) float64 {
	out := math.Inf(1)
	for _, r := range rs {
		if math.IsNaN(r) {
			return r
		}
		out = min(out, r)
	}
	return out
}

// marginText prints a ratio as a goal's margin: "2.4× margin", "1.3×
// margin, thin" (passing by less than 2×), "misses by 1.6×", or "no
// measurement".
func marginText(r float64) string {
	switch {
	case math.IsNaN(r):
		return "no measurement"
	case math.IsInf(r, 1):
		return "∞ margin"
	case r >= 2:
		return fmt.Sprintf("%.1f× margin", r)
	case r >= 1:
		return fmt.Sprintf("%.2f× margin, thin", r)
	case r > 0:
		return fmt.Sprintf("misses by %.2f×", 1/r)
	}
	return "misses"
}

// margin states how measured compares with limit; the text every goal's
// measured column carries (see ratio and marginText).
func margin(measured, limit float64, lowerIsBetter bool) string {
	return marginText(ratio(measured, limit, lowerIsBetter))
}

func allPositive(v []time.Duration) bool {
	for _, d := range v {
		if d < 0 {
			return false
		}
	}
	return len(v) > 0
}

func median(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return -1
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func durs(v []time.Duration) string {
	out := make([]string, len(v))
	for i, d := range v {
		out[i] = dur(d)
	}
	return strings.Join(out, ", ")
}

// String is "<CPU s>, <peak RSS>", or "n/a" when /proc could not be read.
func (u usage) String() string {
	if !u.OK {
		return "n/a"
	}
	return fmt.Sprintf("%.1f s, %s", u.CPU, mib(u.PeakRSS))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// dur prints a latency with sensible precision.
func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", ms(d))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", ms(d))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", ms(d))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func mib(b uint64) string  { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

// human prints 12345 as 12,345 and 1234.5 as 1,235.
func human(v float64) string {
	n := int64(v + 0.5)
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}
