package controllers

import (
	"testing"
	"time"
)

// TestWakeAfter is the schedule of a running Cast's next look, for the
// situations the reconciler meets; an idle Cast must never come back
// sooner than its resync, its postponement or its timeout.
func TestWakeAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const minute = time.Minute
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	in := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name string
		w    wakeInputs
		want time.Duration
	}{
		{"never any news, no credentials: one interval from now",
			wakeInputs{Interval: minute}, minute},
		{"news long ago, no credentials to resync with: one interval from now",
			wakeInputs{Interval: minute, LastNews: ago(time.Hour)}, minute},
		{"missing Secret: refused resync postponed by one interval",
			wakeInputs{Interval: minute, Postponed: in(minute)}, minute},
		{"resync just done",
			wakeInputs{Interval: minute, LastNews: now}, minute},
		{"news 10 s ago: the rest of the interval",
			wakeInputs{Interval: minute, LastNews: ago(10 * time.Second)}, 50 * time.Second},
		{"webhook-only: the long interval from the last delivery",
			wakeInputs{Interval: 15 * minute, LastNews: ago(minute)}, 14 * minute},
		{"webhook-only, never any news",
			wakeInputs{Interval: 15 * minute}, 15 * minute},
		{"budget postponed the overdue resync by 5 s",
			wakeInputs{Interval: minute, LastNews: ago(2 * minute), Postponed: in(5 * time.Second)}, 5 * time.Second},
		{"budget postponed it past the interval",
			wakeInputs{Interval: minute, LastNews: ago(10 * time.Second), Postponed: in(3 * minute)}, 3 * minute},
		{"news after a postponement: the later of the two",
			wakeInputs{Interval: minute, LastNews: ago(5 * time.Second), Postponed: in(10 * time.Second)}, 55 * time.Second},
		{"stale postponement, no credentials any more",
			wakeInputs{Interval: minute, Postponed: ago(time.Hour)}, minute},
		{"timeout sooner than the resync",
			wakeInputs{Interval: minute, LastNews: now, Deadline: in(20 * time.Second)}, 20 * time.Second},
		{"timeout sooner than the look of a Cast without credentials",
			wakeInputs{Interval: minute, Deadline: in(30 * time.Second)}, 30 * time.Second},
		{"timeout later than the resync",
			wakeInputs{Interval: minute, LastNews: now, Deadline: in(time.Hour)}, minute},
		{"timeout due now: floor, not a hot loop",
			wakeInputs{Interval: minute, Deadline: ago(time.Second)}, minWake},
		{"event a moment before the resync was due: floor",
			wakeInputs{Interval: minute, LastNews: ago(minute - 300*time.Millisecond)}, minWake},
	} {
		tc.w.Now = now
		if got := wakeAfter(tc.w); got != tc.want {
			t.Errorf("%s: wakeAfter = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestOnWakeGrid: idle looks are gathered on the grid, never sooner than
// their schedule and at most one grid step later; a timeout is not moved.
func TestOnWakeGrid(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 300*int(time.Millisecond), time.UTC)
	const interval = 64 * time.Second // a grid of one second
	for _, tc := range []struct {
		name        string
		after, want time.Duration
		deadline    time.Time
	}{
		{"moved to the next whole second", 10 * time.Second, 10*time.Second + 700*time.Millisecond, time.Time{}},
		{"a neighbour lands on the same second", 10*time.Second + 500*time.Millisecond, 10*time.Second + 700*time.Millisecond, time.Time{}},
		{"already on the grid", 700 * time.Millisecond, 700 * time.Millisecond, time.Time{}},
		{"the timeout itself is not moved", 5 * time.Second, 5 * time.Second, now.Add(5 * time.Second)},
		{"an overdue timeout's floor is not moved", minWake, minWake, now.Add(-time.Hour)},
		{"never past the timeout", 5 * time.Second, 5*time.Second + 200*time.Millisecond, now.Add(5*time.Second + 200*time.Millisecond)},
		{"a later timeout does not stop the move", 5 * time.Second, 5*time.Second + 700*time.Millisecond, now.Add(time.Hour)},
	} {
		got := onWakeGrid(tc.after, wakeInputs{Now: now, Deadline: tc.deadline}, interval)
		if got != tc.want {
			t.Errorf("%s: onWakeGrid(%s) = %s, want %s", tc.name, tc.after, got, tc.want)
		}
		if got < tc.after || got-tc.after >= interval/wakeGridDivisor {
			t.Errorf("%s: %s is not within one grid step after %s", tc.name, got, tc.after)
		}
	}
}
