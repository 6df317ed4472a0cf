package ghapi

import (
	"fmt"
	"testing"
	"time"
)

var q0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// drain plays n callers that each come back exactly at their slot and
// send, returning the send times.
func drain(q *writeQueue, n int, start time.Time) []time.Time {
	sent := make([]time.Time, 0, n)
	for i := range n {
		key := fmt.Sprint("cast-", i)
		wait := q.reserve(key, false, start)
		at := start.Add(wait)
		if again := q.reserve(key, false, at); again != 0 {
			panic(fmt.Sprintf("caller %d came back at its slot and was told to wait %s", i, again))
		}
		q.sending(key, at)
		sent = append(sent, at)
	}
	return sent
}

func maxInWindow(times []time.Time, window time.Duration) int {
	best := 0
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < window; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

func TestWriteQueueKeepsGitHubsSecondaryLimits(t *testing.T) {
	for _, tc := range []struct {
		name               string
		interval           time.Duration
		n                  int
		wantLast           time.Duration // when the last one leaves
		perMinute, perHour int           // most seen in any window
	}{
		{"default spacing: 500 in 6.4 minutes", DefaultWriteInterval, 500, 499 * DefaultWriteInterval, 78, 500},
		{"no spacing: the minute window paces", 0, 200, 2*time.Minute + 2*time.Millisecond, 78, 200},
		{"600 writes: the hour window holds the last 100", DefaultWriteInterval, 600, time.Hour + lateSendMargin + 99*DefaultWriteInterval, 78, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newWriteQueue(tc.interval, WritesPerMinute, WritesPerHour)
			sent := drain(&q, tc.n, q0)
			if got := sent[len(sent)-1].Sub(q0); got < tc.wantLast-time.Millisecond || got > tc.wantLast+time.Second {
				t.Errorf("last write leaves after %s, want about %s", got, tc.wantLast)
			}
			if got := maxInWindow(sent, time.Minute); got > tc.perMinute {
				t.Errorf("%d writes in one minute, GitHub allows 80 and the queue promises %d", got, tc.perMinute)
			}
			if got := maxInWindow(sent, time.Hour); got > tc.perHour {
				t.Errorf("%d writes in one hour, want at most %d", got, tc.perHour)
			}
			for i := 1; i < len(sent); i++ {
				if gap := sent[i].Sub(sent[i-1]); gap < tc.interval {
					t.Fatalf("writes %d and %d only %s apart", i-1, i, gap)
				}
			}
		})
	}
}

func TestWriteQueueSlotsAreKeptAndForgotten(t *testing.T) {
	q := newWriteQueue(time.Second, WritesPerMinute, WritesPerHour)
	if w := q.reserve("a", false, q0); w != 0 {
		t.Fatalf("first caller waits %s", w)
	}
	if w := q.reserve("b", false, q0); w != time.Second {
		t.Fatalf("second caller waits %s, want 1s", w)
	}
	// Asking again keeps the same slot rather than queueing anew.
	if w := q.reserve("b", false, q0.Add(400*time.Millisecond)); w != 600*time.Millisecond {
		t.Errorf("b asking again waits %s, want the rest of its slot", w)
	}
	// c queues behind b; b never comes back, so after the grace its slot
	// goes and late-comers queue after the last kept slot.
	if w := q.reserve("c", false, q0); w != 2*time.Second {
		t.Errorf("c waits %s, want 2s", w)
	}
	q.sending("a", q0)
	q.sending("c", q0.Add(2*time.Second))
	late := q0.Add(time.Second + slotGrace + time.Second)
	if w := q.reserve("b", false, late); w != 0 {
		t.Errorf("b after its slot expired waits %s, want a fresh slot now", w)
	}
}

func TestWriteQueueHoldDropsReservations(t *testing.T) {
	q := newWriteQueue(time.Second, WritesPerMinute, WritesPerHour)
	q.reserve("a", false, q0)
	q.sending("a", q0)
	q.reserve("b", false, q0)
	q.holdUntil(q0.Add(time.Minute))
	if w := q.reserve("b", false, q0.Add(time.Second)); w != 59*time.Second {
		t.Errorf("after a hold b waits %s, want until the hold ends", w)
	}
}

func TestWriteQueueSecondHalfGoesAhead(t *testing.T) {
	q := newWriteQueue(time.Second, WritesPerMinute, WritesPerHour)
	for _, k := range []string{"a", "b", "c", "d"} {
		q.reserve(k, false, q0)
	}
	q.sending("a", q0)
	// a's dispatch was refused for a field and goes again at once, not
	// behind b, c and d: one dispatch, not a place at the back.
	if w := q.reserve("a-again", true, q0.Add(100*time.Millisecond)); w != 900*time.Millisecond {
		t.Errorf("the retry waits %s, want the next second after a's send", w)
	}
}

func TestWriteQueueForgetsRefusedSends(t *testing.T) {
	q := newWriteQueue(0, 2, WritesPerHour)
	q.claim("a", q0)
	at := q.claim("b", q0)
	// b met a secondary limit: GitHub did not count it, nor does the queue.
	q.unsend(at)
	if w := q.reserve("c", false, q0); w != 0 {
		t.Errorf("after a refused send c waits %s, want the minute's second slot now", w)
	}
}
