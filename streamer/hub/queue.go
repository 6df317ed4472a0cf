package hub

import "k8s.io/apimachinery/pkg/types"

// Sizes of a queue's bookkeeping. A stream that keeps up holds one or two
// pending updates: a scan of a few slots finds a Cast faster than a map
// hashes its key, and allocates nothing. Only a stream that falls behind
// by more than linearMax Casts gets an index.
const (
	linearMax = 8
	// keepCap is the largest backing array a drained queue keeps; a
	// larger one (left by a burst to a slow client) goes back to the GC.
	keepCap = 256
)

// queue holds a stream's pending updates, at most one per Cast (the
// latest), oldest resourceVersion first. Replacing a Cast's update leaves
// a hole (nil) where the old one was and appends the new one, so pushes
// never shift the slice and never allocate once it has grown; holes are
// squeezed out when they outnumber the live updates, which bounds the
// slice by twice the Casts pending.
type queue struct {
	items []*Update // oldest first; nil marks a replaced update
	live  int       // non-nil items
	// index maps a Cast to its position in items; valid only while
	// indexed (more than linearMax items), kept across drains for reuse.
	index   map[types.NamespacedName]int
	indexed bool
}

// find returns the position of key's pending update, or -1.
func (q *queue) find(key types.NamespacedName) int {
	if q.indexed {
		if i, ok := q.index[key]; ok {
			return i
		}
		return -1
	}
	for i, u := range q.items {
		if u != nil && u.Key == key {
			return i
		}
	}
	return -1
}

// push queues u at the back, dropping the Cast's pending update if there
// is one; merge(old, u) then says what is queued instead of u (u itself,
// or a copy with the stronger kind).
func (q *queue) push(u *Update, merge func(old, u *Update) *Update) {
	if i := q.find(u.Key); i >= 0 {
		u = merge(q.items[i], u)
		q.items[i] = nil
		q.live--
	}
	q.items = append(q.items, u)
	q.live++
	switch {
	case len(q.items) > 2*q.live+linearMax:
		q.compact()
	case q.indexed:
		q.index[u.Key] = len(q.items) - 1
	case len(q.items) > linearMax:
		q.reindex()
	}
}

// compact squeezes out the holes and rebuilds the index.
func (q *queue) compact() {
	n := 0
	for _, u := range q.items {
		if u != nil {
			q.items[n] = u
			n++
		}
	}
	clear(q.items[n:])
	q.items = q.items[:n]
	q.indexed = false
	if n > linearMax {
		q.reindex()
	}
}

func (q *queue) reindex() {
	if q.index == nil {
		q.index = make(map[types.NamespacedName]int, len(q.items))
	} else {
		clear(q.index)
	}
	for i, u := range q.items {
		if u != nil {
			q.index[u.Key] = i
		}
	}
	q.indexed = true
}

// drain appends the pending updates to dst, oldest first, and empties
// the queue.
func (q *queue) drain(dst []*Update) []*Update {
	for _, u := range q.items {
		if u != nil {
			dst = append(dst, u)
		}
	}
	if cap(q.items) > keepCap {
		q.items, q.index = nil, nil
	} else {
		clear(q.items) // the updates are the stream's now; do not pin them
		q.items = q.items[:0]
	}
	q.live, q.indexed = 0, false
	return dst
}

// len is the number of Casts with a pending update.
func (q *queue) len() int { return q.live }
