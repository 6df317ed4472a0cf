package main

import (
	"fmt"
	"math"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the floor server: the saturation
// scenario re-executes os.Executable(), which under `go test` is this
// binary.
func TestMain(m *testing.M) {
	if isFloorServer(os.Args[1:]) {
		if err := floorMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseStamp(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want stamp
		ok   bool
	}{
		{"t=1700000000123456789 p=3 n=17 xxxx", stamp{phase: 3, seq: 17, sent: 1700000000123456789}, true},
		{"t=-5 p=1 n=0", stamp{phase: 1, seq: 0, sent: -5}, true},
		{"t=12 p=1", stamp{}, false},
		{"t= p=1 n=2", stamp{}, false},
		{"created", stamp{}, false},
	} {
		got, ok := parseStamp(c.msg)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseStamp(%q) = %+v, %v; want %+v, %v", c.msg, got, ok, c.want, c.ok)
		}
	}
}

// TestPhaseAccounting checks that latency runs from the stamp, that a stamp
// from the future is a negative latency counted apart (never clamped to
// 0), that skipped writes of a Cast count as superseded, repeats as
// reordered, and events after close as late.
func TestPhaseAccounting(t *testing.T) {
	w := &writer{casts: []castRef{{ns: 0, name: "a"}, {ns: 1, name: "b"}}}
	p := newPhase(8)
	w.plan(p, 4, time.Second) // writes 0..3: a, b, a, b
	if p.total != 4 || p.castOf[2] != 0 || p.ordOf[2] != 1 || p.nsOf[3] != 1 {
		t.Fatalf("plan: total %d castOf %v ordOf %v nsOf %v", p.total, p.castOf, p.ordOf, p.nsOf)
	}
	now := time.Now()
	sent := now.Add(-30 * time.Millisecond).UnixNano()
	var r1, r2 seen
	p.observeStamp(&r1, stamp{phase: p.id, seq: 0, sent: sent}, now)
	p.observeStamp(&r1, stamp{phase: p.id, seq: 2, sent: sent}, now)
	p.observeStamp(&r2, stamp{phase: p.id, seq: 2, sent: sent}, now) // r2 skipped write 0 of a
	p.observeStamp(&r2, stamp{phase: p.id, seq: 2, sent: sent}, now) // twice
	p.observeStamp(&r2, stamp{phase: p.id, seq: 1, sent: now.Add(time.Second).UnixNano()}, now)
	p.observeStamp(&r2, stamp{phase: p.id + 1, seq: 1, sent: sent}, now) // another phase: ignored
	if got := p.lat.quantile(0.5); got < 29*time.Millisecond || got > 31*time.Millisecond {
		t.Errorf("p50 %s, want 30 ms from the stamp", got)
	}
	if p.lat.count() != 4 || p.lat.neg.Load() != 1 || p.received() != 5 {
		t.Errorf("count %d neg %d received %d, want 4, 1, 5", p.lat.count(), p.lat.neg.Load(), p.received())
	}
	if p.superseded.Load() != 1 || p.reordered.Load() != 1 {
		t.Errorf("superseded %d reordered %d, want 1 and 1", p.superseded.Load(), p.reordered.Load())
	}
	if s := p.lat.summary(); s.valid() {
		t.Errorf("a histogram with a negative sample is not a valid measurement: %+v", s)
	}
	p.close()
	p.observeStamp(&r1, stamp{phase: p.id, seq: 3, sent: sent}, now)
	if p.late.Load() != 1 || p.lat.count() != 4 {
		t.Errorf("late %d count %d, want 1 and 4", p.late.Load(), p.lat.count())
	}
}

func TestCompleteness(t *testing.T) {
	if p := (completeness{want: 25000, got: 24999}).pct(); p != 99.9 {
		t.Errorf("24,999 of 25,000 = %v%%, want 99.9%% (never a rounded-up 100%%)", p)
	}
	ok := completeness{want: 10, got: 8, superseded: 2}
	if !ok.complete() {
		t.Errorf("%v: read or superseded, every event: complete", ok)
	}
	for _, c := range []completeness{
		{want: 10, got: 9},
		{want: 0},
		{want: 10, got: 10, neg: 1},
		{want: 10, got: 10, reordered: 1},
		{want: 10, got: 10, failed: 1},
	} {
		if c.complete() {
			t.Errorf("%+v counts as complete", c)
		}
	}
}

func TestMargin(t *testing.T) {
	for _, c := range []struct {
		measured, limit float64
		lower           bool
		want            string
	}{
		{10, 24, true, "2.4× margin"},
		{20, 26, true, "1.30× margin, thin"},
		{80, 50, true, "misses by 1.60×"},
		{0, 5, true, "∞ margin"},
		{-1, 100, true, "no measurement"},
		{math.NaN(), 100, true, "no measurement"},
		{1200, 500, false, "2.4× margin"},
		{600, 500, false, "1.20× margin, thin"},
		{250, 500, false, "misses by 2.00×"},
		{0, 500, false, "misses"},
	} {
		if got := margin(c.measured, c.limit, c.lower); got != c.want {
			t.Errorf("margin(%v, %v, %v) = %q, want %q", c.measured, c.limit, c.lower, got, c.want)
		}
	}
	if r := tightest(3, 1.5, 8); r != 1.5 {
		t.Errorf("tightest = %v, want 1.5", r)
	}
	if r := tightest(3, math.NaN()); !math.IsNaN(r) {
		t.Errorf("tightest with a missing bound = %v, want NaN", r)
	}
}

func TestSaturationSteps(t *testing.T) {
	if got := nextRate(10, 1.5, 100); got != 15 {
		t.Errorf("nextRate(10) = %v, want 15", got)
	}
	if got := nextRate(80, 1.5, 100); got != 0 {
		t.Errorf("nextRate past the max = %v, want 0 (climb over)", got)
	}
	ok := satPoint{rate: 10, writeRate: 10, sum: summary{N: 100, P50: time.Millisecond, P99: 50 * time.Millisecond}, comp: completeness{want: 100, got: 100}}
	judge(&ok, 100*time.Millisecond, false)
	if !ok.pass {
		t.Fatalf("a complete step with p99 50 ms failed: %s", ok.why)
	}
	for name, p := range map[string]satPoint{
		"slow":       {rate: 10, writeRate: 10, sum: summary{N: 100, P99: 150 * time.Millisecond}, comp: completeness{want: 100, got: 100}},
		"incomplete": {rate: 10, writeRate: 10, sum: summary{N: 99, P99: time.Millisecond}, comp: completeness{want: 100, got: 99}},
		"empty":      {rate: 10, writeRate: 10, sum: summary{P99: -1}, comp: completeness{want: 100}},
		"negative":   {rate: 10, writeRate: 10, sum: summary{N: 99, Neg: 1, P99: time.Millisecond}, comp: completeness{want: 100, got: 100, neg: 1}},
		"writer":     {rate: 10, writeRate: 5, sum: summary{N: 100, P99: time.Millisecond}, comp: completeness{want: 100, got: 100}},
		"dropped":    {rate: 10, writeRate: 10, dropped: 1, sum: summary{N: 100, P99: time.Millisecond}, comp: completeness{want: 100, got: 100}},
	} {
		judge(&p, 100*time.Millisecond, false)
		if p.pass || p.why == "" {
			t.Errorf("%s step sustained: %+v", name, p)
		}
	}
	// Slow writes are the watch design's own knee, the others' harness limit.
	w := satPoint{rate: 10, writeRate: 5, sum: summary{N: 100, P99: time.Millisecond}, comp: completeness{want: 100, got: 100}}
	judge(&w, 100*time.Millisecond, true)
	if (satCurve{points: []satPoint{w}}).kneeStep() == nil {
		t.Errorf("kube-apiserver not keeping up with the writes while serving the watches is no knee: %s", w.why)
	}
	judge(&w, 100*time.Millisecond, false)
	if (satCurve{points: []satPoint{w}}).kneeStep() != nil {
		t.Errorf("the writer's limit is a knee: %s", w.why)
	}
	// The best step is the last sustained one; a failure for the writer's
	// sake is no knee.
	c := satCurve{points: []satPoint{{rate: 1, pass: true, delivered: 1}, {rate: 2, pass: true, delivered: 2}, {rate: 3, why: whyWriter + " (x)"}}}
	if best, knee := c.best(); best == nil || best.delivered != 2 || knee {
		t.Errorf("best %+v knee %v, want the second step and no knee", best, knee)
	}
	c.points[2].why = "p99 1 s > 100 ms"
	if _, knee := c.best(); !knee {
		t.Error("a step failed by latency is the knee")
	}
	c.points = append(c.points[:2], satPoint{rate: 3, why: retriedMark + "p99 1 s > 100 ms"}, satPoint{rate: 3, pass: true, delivered: 3})
	if best, knee := c.best(); best == nil || best.delivered != 3 || knee {
		t.Errorf("a retried step that then passed: best %+v knee %v, want the last step and no knee", best, knee)
	}
}

func TestLadder(t *testing.T) {
	type move struct {
		pass  bool
		next  float64
		retry bool
	}
	for name, c := range map[string]struct {
		start float64
		moves []move
	}{
		"climb, hiccup, knee": {8, []move{{true, 12, false}, {false, 12, true}, {true, 18, false}, {false, 0, false}}},
		"stops at max":        {40, []move{{true, 60, false}, {true, 90, false}, {true, 0, false}}},
		"descends from a failed start, stops at the first pass": {
			81, []move{{false, 81, true}, {false, 54, false}, {false, 36, false}, {true, 0, false}}},
		"gives up after the descents": {
			81, []move{{false, 81, true}, {false, 54, false}, {false, 36, false}, {false, 24, false}, {false, 16, false}, {false, 0, false}}},
	} {
		l := ladder{factor: 1.5, max: 100, maxDescents: 4}
		rate := c.start
		for i, m := range c.moves {
			next, retry := l.after(rate, m.pass)
			if math.Abs(next-m.next) > 1e-9 || retry != m.retry {
				t.Errorf("%s: move %d at %v (pass %v) = %v, %v; want %v, %v", name, i, rate, m.pass, next, retry, m.next, m.retry)
				break
			}
			rate = next
		}
	}
	// A climb that came down and then sustained a step: the failures above
	// are its knee.
	c := satCurve{points: []satPoint{{rate: 81, why: retriedMark + "p99"}, {rate: 81, why: "p99"}, {rate: 54, pass: true, delivered: 5}}}
	if best, knee := c.best(); best == nil || best.rate != 54 || !knee {
		t.Errorf("best %+v knee %v, want 54 and a knee", best, knee)
	}
}

// TestSendRate: a window whose writes all went out on schedule kept its
// rate, even when the rate does not divide the window; a backlog did not.
func TestSendRate(t *testing.T) {
	w := &writer{casts: []castRef{{name: "a"}}}
	p := newPhase(16)
	rate := 5 / (1.5 * 1.5 * 1.5 * 1.5) // 0.99 writes/s: 4 writes in 5 s
	w.plan(p, rate, 5*time.Second)
	p.start = time.Unix(100, 0)
	interval := time.Duration(float64(time.Second) / rate)
	p.lastSent.Store(p.start.Add(3 * interval).UnixNano())
	p.writes.Store(int64(p.total))
	if got := p.sendRate(rate); got < 0.99*rate {
		t.Errorf("on schedule: %v writes/s of %v", got, rate)
	}
	p.lastSent.Store(p.start.Add(6 * interval).UnixNano())
	if got := p.sendRate(rate); got > 0.9*rate {
		t.Errorf("three intervals behind: %v writes/s of %v counts as kept up", got, rate)
	}
}
