package main

import (
	"strings"
	"testing"
	"time"
)

// TestScreenWindowObserve checks the scenario's bookkeeping: a delivery
// counts once every client saw it or a later delivery of the same Cast
// (latest state wins), its latency is the last client's read, and reads
// that cannot be right are counted, not timed.
func TestScreenWindowObserve(t *testing.T) {
	// 6 deliveries over 3 Casts (castBase 10, seqBase 100): delivery i is
	// Cast 10+i%3's (i/3)-th.
	w := newScreenWindow(10, 6, 3, 10, 100, 2)
	t0 := time.Now().UnixNano()
	for i := range 6 {
		w.start[i].Store(t0 + int64(i)*int64(time.Millisecond))
	}
	a, b := newLast(3), newLast(3)
	ms := func(n int) int64 { return t0 + int64(n)*int64(time.Millisecond) }

	w.observe(a, 10, 100, ms(5)) // delivery 0, client a
	if w.done.Load() != 0 {
		t.Fatal("a delivery one of two clients saw counted as done")
	}
	w.observe(b, 10, 100, ms(3)) // delivery 0, client b, read earlier than a
	if w.done.Load() != 1 || w.lat.max.Load() != int64(5*time.Millisecond) {
		t.Fatalf("delivery 0: done %d, latency %v; want 1 and 5ms (the later read)", w.done.Load(), time.Duration(w.lat.max.Load()))
	}
	// Both clients read delivery 3, Cast 10's second.
	w.observe(a, 10, 103, ms(9))
	w.observe(b, 10, 103, ms(8))
	if w.done.Load() != 2 {
		t.Fatalf("done %d after delivery 3, want 2", w.done.Load())
	}
	// Cast 11: client a reads deliveries 1 and 4; client b only 4, which
	// covers 1 (coalesced).
	w.observe(a, 11, 101, ms(6))
	w.observe(a, 11, 104, ms(10))
	w.observe(b, 11, 104, ms(12))
	if w.done.Load() != 4 || w.partial() != 0 {
		t.Fatalf("done %d, partial %d after Cast 11, want 4 and 0", w.done.Load(), w.partial())
	}
	// A repeat of an older delivery changes nothing.
	w.observe(a, 11, 101, ms(13))
	// Wrong Cast for the number; another window's number.
	w.observe(a, 12, 100, ms(14))
	w.observe(a, 12, 99, ms(14))
	if w.mismatched.Load() != 1 {
		t.Fatalf("mismatched %d, want 1", w.mismatched.Load())
	}
	// Delivery 2 read before its POST started: negative, not timed.
	w.observe(a, 12, 102, ms(1))
	w.observe(b, 12, 102, ms(1))
	if w.negative.Load() != 1 || w.lat.count() != 4 || w.done.Load() != 5 {
		t.Fatalf("negative %d, timed %d, done %d; want 1, 4, 5", w.negative.Load(), w.lat.count(), w.done.Load())
	}
	// Delivery 5 seen by one client only.
	w.observe(a, 12, 105, ms(20))
	if w.partial() != 1 || w.done.Load() != 5 {
		t.Fatalf("partial %d, done %d; want 1 and 5", w.partial(), w.done.Load())
	}
	r := screenResult{deliveries: 6, complete: int(w.done.Load()), clients: 2, wanted: 2, lat: w.lat.summary()}
	if r.ok() {
		t.Fatal("a window with a partly seen delivery and a negative read is complete")
	}
}

// TestScreenGoalsFailWithoutSamples: the 10/s goal fails on an empty or
// incomplete window, whatever its p99 says.
func TestScreenGoalsFailWithoutSamples(t *testing.T) {
	for name, s := range map[string]screenResult{
		"empty":      {rate: 10, clients: 5, wanted: 5, lat: summary{P99: -1}},
		"incomplete": {rate: 10, clients: 5, wanted: 5, deliveries: 10, complete: 9, lat: summary{N: 9, P99: time.Millisecond}},
		"a client short": {rate: 10, clients: 4, wanted: 5, deliveries: 10, complete: 10,
			lat: summary{N: 10, P99: time.Millisecond}},
	} {
		if g := screenGoalOf(t, s); g.pass {
			t.Errorf("%s: %+v, want FAIL", name, g)
		}
	}
	ok := screenResult{rate: 10, clients: 5, wanted: 5, deliveries: 10, complete: 10, lat: summary{N: 10, P99: 30 * time.Millisecond}}
	if g := screenGoalOf(t, ok); !g.pass || !strings.Contains(g.measured, "(1.67× margin, thin)") {
		t.Errorf("complete window, p99 30 ms: %+v, want PASS with a thin 1.7× margin", g)
	}
}

func screenGoalOf(t *testing.T, s screenResult) goal {
	t.Helper()
	r := &results{screen: []screenResult{s}}
	var got []goal
	r.screenGoals(func(g goal) { got = append(got, g) }, func(string, string) { t.Fatal("skipped") })
	if len(got) != 1 {
		t.Fatalf("%d goals, want 1", len(got))
	}
	return got[0]
}
