package ghapi

import (
	"slices"
	"time"
)

// writeQueue hands out slots for content-creating requests (dispatch,
// cancel) of one credential: evenly spaced, at most perMinute in any
// minute and perHour in any hour, first come first served. A slot is
// reserved for a key (a Cast) so the caller can go away and come back for
// it instead of holding a worker.
type writeQueue struct {
	interval  time.Duration
	perMinute int
	perHour   int
	// slots are reserved or sent, at their planned or actual time.
	slots []writeSlot
	// notBefore is set by a rate-limit hold.
	notBefore time.Time
	// lastSend is when the latest request actually left.
	lastSend time.Time
}

type writeSlot struct {
	key  string
	at   time.Time
	sent bool
}

// slotGrace is how late a caller may come for its slot before it is given
// to the queue again.
const slotGrace = 5 * time.Second

// lateSendMargin bounds how much later than planned a send can leave: a
// caller back at the end of its grace, then waiting out a slow
// predecessor and the spacing.
const lateSendMargin = slotGrace + maxWriteHold + 2*time.Second

func newWriteQueue(interval time.Duration, perMinute, perHour int) writeQueue {
	return writeQueue{interval: interval, perMinute: perMinute, perHour: perHour}
}

// reserve returns how long key must wait for its slot, reserving one if it
// has none; 0 means now. front takes the next slot after the last send,
// ahead of reservations, which the spacing of actual sends pushes back.
func (q *writeQueue) reserve(key string, front bool, now time.Time) time.Duration {
	q.prune(now)
	if i := q.find(key); i >= 0 {
		return max(q.slots[i].at.Sub(now), 0)
	}
	at := q.nextFree(now)
	if front {
		at = q.nextAfterSends(now)
	}
	q.slots = append(q.slots, writeSlot{key: key, at: at})
	return max(at.Sub(now), 0)
}

// claim returns when key's request may leave: now, or an interval after
// the previous one if that left later than planned; it records that time,
// which the windows count from then on.
func (q *writeQueue) claim(key string, now time.Time) time.Time {
	at := now
	if next := q.lastSend.Add(q.interval); next.After(at) {
		at = next
	}
	q.sending(key, at)
	return at
}

// sending records that key's request leaves at now, which may be later
// than planned; the windows count actual times.
func (q *writeQueue) sending(key string, now time.Time) {
	q.lastSend = now
	if i := q.find(key); i >= 0 {
		q.slots[i].at, q.slots[i].sent = now, true
		q.slots[i].key = ""
		return
	}
	q.slots = append(q.slots, writeSlot{at: now, sent: true})
}

// unsend forgets a send GitHub refused with a secondary limit.
func (q *writeQueue) unsend(at time.Time) {
	if i := slices.IndexFunc(q.slots, func(s writeSlot) bool { return s.sent && s.at.Equal(at) }); i >= 0 {
		q.slots = slices.Delete(q.slots, i, i+1)
	}
}

// holdUntil drops every reservation and starts the queue again after a
// rate-limit hold: callers come back after it and queue anew.
func (q *writeQueue) holdUntil(t time.Time) {
	q.slots = slices.DeleteFunc(q.slots, func(s writeSlot) bool { return !s.sent })
	if t.After(q.notBefore) {
		q.notBefore = t
	}
}

func (q *writeQueue) find(key string) int {
	return slices.IndexFunc(q.slots, func(s writeSlot) bool { return !s.sent && s.key == key })
}

// prune forgets sends older than an hour and reservations nobody came for.
func (q *writeQueue) prune(now time.Time) {
	q.slots = slices.DeleteFunc(q.slots, func(s writeSlot) bool {
		if s.sent {
			return now.Sub(s.at) > time.Hour
		}
		return now.Sub(s.at) > slotGrace
	})
}

// nextAfterSends is the earliest time that keeps the spacing and both
// windows counting sends only.
func (q *writeQueue) nextAfterSends(now time.Time) time.Time {
	sent := writeQueue{interval: q.interval, perMinute: q.perMinute, perHour: q.perHour, notBefore: q.notBefore}
	for _, s := range q.slots {
		if s.sent {
			sent.slots = append(sent.slots, s)
		}
	}
	return sent.nextFree(now)
}

// nextFree is the earliest time after every slot that keeps the spacing
// and both windows.
func (q *writeQueue) nextFree(now time.Time) time.Time {
	at := now
	if at.Before(q.notBefore) {
		at = q.notBefore
	}
	if len(q.slots) == 0 {
		return at
	}
	times := make([]time.Time, len(q.slots))
	for i, s := range q.slots {
		times[i] = s.at
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	last := times[len(times)-1]
	if next := last.Add(q.interval); next.After(at) {
		at = next
	}
	// A slot just past the window's edge: the window holds perMinute
	// slots before at only if the oldest of them is a minute old.
	if n := len(times); n >= q.perMinute {
		if edge := times[n-q.perMinute].Add(time.Minute + time.Millisecond); edge.After(at) {
			at = edge
		}
	}
	if n := len(times); n >= q.perHour {
		// A send may leave later than planned (a caller back late, a slow
		// predecessor), so the hour's edge keeps that much margin.
		if edge := times[n-q.perHour].Add(time.Hour + lateSendMargin); edge.After(at) {
			at = edge
		}
	}
	return at
}
