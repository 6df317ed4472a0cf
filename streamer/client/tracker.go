package client

import (
	"strconv"

	"github.com/spell-platform/cast-operator/streamer/wire"
)

// castState is what the consumer was last told about one Cast.
type castState struct {
	rv      int64
	kind    wire.Kind
	deleted bool
	snap    wire.Snapshot
}

// tracker enforces the delivery contract across connections: per Cast,
// resourceVersions only go up, except that a full snapshot wins (the API
// server's history can go back: an etcd restore), and after a full
// snapshot the Casts it no longer holds are reported deleted. It does no I/O, so every rule is
// tested without a server.
type tracker struct {
	casts map[string]*castState
	// kinds are the event types the consumer asked for; the zero set is
	// every type.
	kinds wire.KindSet

	// The current connection's initial batch (collections only): what the
	// stream sent before "synced", and what it proves about the batch.
	initial bool
	sentRV  int64 // the Last-Event-ID sent, as a number
	sentOK  bool  // a numeric Last-Event-ID was sent
	seen    map[string]bool
	full    bool // proven a full snapshot
	exact   bool // proven an exact resume
	// first: a single Cast's connection has delivered nothing yet; its
	// first event is the Cast's whole state when not a resume.
	first bool
}

func newTracker(kinds wire.KindSet) *tracker {
	return &tracker{casts: map[string]*castState{}, kinds: kinds}
}

// whole reports whether a full snapshot holds every Cast: it sends each
// state as status or complete, so one that leaves either out may skip a
// Cast that still exists.
func (t *tracker) whole() bool { return t.kinds.Has(wire.KindStatus) && t.kinds.Has(wire.KindComplete) }

// parseRV reads a resourceVersion as the number etcd makes it.
func parseRV(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

func keyOf(s wire.Snapshot) string { return s.Namespace + "/" + s.Name }

// begin starts a connection that sent lastID; collection streams have an
// initial batch that ends with "synced".
func (t *tracker) begin(lastID string, collection bool) {
	t.initial = collection
	t.sentRV, t.sentOK = parseRV(lastID)
	t.seen = map[string]bool{}
	// Without an id, what the server sends is everything there is.
	t.full = !t.sentOK
	t.exact = false
	t.first = !collection
}

// offer decides whether ev (a state or a deletion, never synced) reaches
// the consumer, and records it if so.
func (t *tracker) offer(ev Event) bool {
	key := keyOf(ev.Cast)
	rv, ok := parseRV(ev.ID)
	// answer: ev is part of a full answer, the server's whole state now,
	// which wins even over a newer state the consumer was told: the API
	// server's history went back (an etcd restore from a snapshot).
	answer := false
	if t.initial {
		t.seen[key] = true
		switch {
		case ev.Type == wire.KindDeleted:
			// Full snapshots hold no deletions: this is an exact resume.
			t.exact = true
		case t.sentOK && ok && rv <= t.sentRV:
			// An exact resume sends only what changed after the id.
			t.full = true
		}
		answer = t.full && ev.Type != wire.KindDeleted
	} else if t.first {
		// A single Cast's resume sends nothing older than the id either.
		answer = t.sentOK && ok && rv <= t.sentRV && ev.Type != wire.KindDeleted
	}
	t.first = false
	if !ok {
		// Unordered: deliver rather than risk losing the latest state.
		return true
	}
	st := t.casts[key]
	switch {
	case st == nil || rv > st.rv:
		if st != nil && st.deleted && ev.Type == wire.KindDeleted {
			st.rv = rv // told already
			return false
		}
	case rv == st.rv && terminalKind(ev.Type) && ev.Type != st.kind && !st.deleted:
		// The same state, now marked final: say so, so a consumer waiting
		// for "complete" is not left waiting.
	case answer && rv < st.rv:
		// Older than what the consumer was told, and yet the server's
		// state: the history went back, and this is where it resumes.
	default:
		return false
	}
	st = &castState{rv: rv, kind: ev.Type, deleted: ev.Type == wire.KindDeleted}
	if !st.deleted && t.kinds.Has(wire.KindDeleted) {
		// Kept for a synthetic deletion; a deleted Cast needs only its rv,
		// so long subscriptions over churning namespaces stay small.
		st.snap = ev.Cast
	}
	t.casts[key] = st
	return true
}

func terminalKind(k wire.Kind) bool { return k == wire.KindComplete || k == wire.KindDeleted }

// ghostCandidates are the live Casts the current initial batch did not
// mention; nil when the batch is known to be an exact resume, where an
// unmentioned Cast simply did not change, and when the consumer did not
// ask for deletions, which ghosts would only be reported as.
func (t *tracker) ghostCandidates() []string {
	if t.exact || !t.kinds.Has(wire.KindDeleted) {
		return nil
	}
	var out []string
	for key, st := range t.casts {
		if !st.deleted && !t.seen[key] {
			out = append(out, key)
		}
	}
	return out
}

// needsCheck says whether ghostCandidates could be Casts that still exist
// rather than deleted ones: the batch proved neither full nor exact, or
// it leaves out the Casts whose state is of a type not asked for.
func (t *tracker) needsCheck() bool { return (!t.full && !t.exact) || !t.whole() }

// synced ends the initial batch, turning the given Casts (ghosts the
// caller settled on) into deletions with the synced event's id, which is
// past every state the server had. full says the server answered with a
// full snapshot (`"resumed": false`, or proven by the batch): then the
// synced id is where the server's history stands, even below ids the
// consumer saw before (an etcd restore), and every Cast the snapshot did
// not hold is gone as of that id, so that a Cast created again afterwards
// is not taken for an old state.
func (t *tracker) synced(syncedID string, ghosts []string, full bool) []Event {
	t.initial = false
	full = full || t.full
	rv, ok := parseRV(syncedID)
	var out []Event
	for _, key := range ghosts {
		if ev, done := t.forget(key, rv, full && ok); done {
			out = append(out, ev)
		}
	}
	if full && ok {
		for key, st := range t.casts {
			if st.deleted && !t.seen[key] {
				st.rv = rv
			}
		}
	}
	return out
}

// gone is the deletion to deliver for a single Cast the streamer no
// longer has: the last state the consumer saw (forget), or, when it saw
// none because it asked only for types that never came, the Cast's name
// and the id it was followed up to. None when deletions were not asked
// for or were told already.
func (t *tracker) gone(namespace, name, lastID string) (Event, bool) {
	key := namespace + "/" + name
	known := t.casts[key] != nil
	ev, ok := t.forget(key, 0, false)
	if !known && t.kinds.Has(wire.KindDeleted) {
		rv, _ := parseRV(lastID)
		t.casts[key] = &castState{rv: rv, kind: wire.KindDeleted, deleted: true}
		snap := wire.Snapshot{CastID: key, Namespace: namespace, Name: name, ResourceVersion: lastID}
		ev, ok = Event{Type: wire.KindDeleted, ID: lastID, Cast: snap}, true
	}
	return ev, ok && t.kinds.Has(wire.KindDeleted)
}

// forget records that a known Cast is gone and returns the synthetic
// deletion to deliver, carrying the last state the consumer saw. at says
// rv is where the server's history stands, lower or not.
func (t *tracker) forget(key string, rv int64, at bool) (Event, bool) {
	st := t.casts[key]
	if st == nil || st.deleted {
		return Event{}, false
	}
	if !at {
		rv = max(st.rv, rv)
	}
	st.rv, st.kind, st.deleted = rv, wire.KindDeleted, true
	snap := st.snap
	snap.ResourceVersion = strconv.FormatInt(st.rv, 10)
	return Event{Type: wire.KindDeleted, ID: snap.ResourceVersion, Cast: snap}, true
}
