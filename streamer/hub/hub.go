package hub

import (
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// DefaultMaxTombstones bounds the deletions remembered for resuming
// clients; older deletions make a resume fall back to a full snapshot.
const DefaultMaxTombstones = 10000

// state is the hub's memory of one Cast: what clients were last told. It
// holds no JSON: a Cast's resting state is rendered when a snapshot, a
// resume or a JSON endpoint sends it, which at 100,000 Casts spares the
// replica an encoded frame per Cast (the largest share of its memory)
// for a few hundred milliseconds of encoding per full snapshot.
type state struct {
	// cast is the informer's own object: cached objects are never
	// modified, so the hub shares it instead of copying what it reads.
	cast *Trimmed
	// rv is the resourceVersion of the Cast's last status change, the id
	// clients resume from; metadata-only updates do not move it.
	rv int64
}

type tombstone struct {
	key    types.NamespacedName
	labels map[string]string
	update *Update
}

// Hub holds the current state of every Cast, fed by one informer, and the
// subscribers of every stream on this replica.
type Hub struct {
	maxTombstones int
	now           func() time.Time

	mu         sync.RWMutex
	casts      map[types.NamespacedName]state
	tombstones []tombstone // oldest first
	// horizon: deletions at or below this resourceVersion may be unknown,
	// so a client resuming from below it gets a full snapshot.
	horizon int64
	maxRV   int64
	// seenRV is the highest resourceVersion of an object this hub was
	// given (maxRV may also hold a list's): a change above it cannot be
	// older than anything the hub knows (restore.go).
	seenRV int64
	synced bool
	subs   map[*Subscriber]struct{}
	// byNS indexes subs by the namespace they watch ("" for all
	// namespaces), so a change is offered only to streams that may want it.
	byNS   map[string]*subSet
	closed bool
	// source lists the informer's objects and its store's resourceVersion,
	// for a rebase after the API server's history went back (restore.go).
	source   Source
	onRebase func(from, to int64)
	// rebases counts them.
	rebases int
}

// New returns an empty Hub. now is injectable for tests; nil means
// time.Now.
func New(maxTombstones int, now func() time.Time) *Hub {
	if maxTombstones <= 0 {
		maxTombstones = DefaultMaxTombstones
	}
	if now == nil {
		now = time.Now
	}
	return &Hub{
		maxTombstones: maxTombstones,
		now:           now,
		casts:         map[types.NamespacedName]state{},
		subs:          map[*Subscriber]struct{}{},
		byNS:          map[string]*subSet{},
	}
}

var _ toolscache.ResourceEventHandler = (*Hub)(nil)

// OnAdd records a Cast; after the initial list it is news for streams.
func (h *Hub) OnAdd(obj any, _ bool) {
	if cast, ok := asTrimmed(obj); ok {
		h.observe(cast)
	}
}

// OnUpdate records a Cast's new state; only status changes reach streams.
func (h *Hub) OnUpdate(_, newObj any) {
	if cast, ok := asTrimmed(newObj); ok {
		h.observe(cast)
	}
}

// OnDelete records a deletion as a tombstone and tells the streams.
func (h *Hub) OnDelete(obj any) {
	unknownFinalState := false
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj, unknownFinalState = d.Obj, true
	}
	cast, ok := asTrimmed(obj)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: cast.Namespace, Name: cast.Name}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, known := h.casts[key]
	delete(h.casts, key)
	rv, ok := parseRV(cast.ResourceVersion)
	if !unknownFinalState && ok && h.wentBack(key, st, known, rv) && h.rebase() {
		return
	}
	if unknownFinalState || !ok {
		// The watch missed the deletion: when it happened is unknown, so
		// no resume from what this hub has seen so far can be exact.
		rv = h.maxRV
		h.distrustIssuedIDs()
		if !known {
			// A rebase dropped it already (restore.go): no stream was
			// told of it since, so there is nothing to tell.
			return
		}
	}
	h.maxRV = max(h.maxRV, rv)
	h.seenRV = max(h.seenRV, rv)
	if known {
		last := *cast
		last.Status = st.cast.Status
		cast = &last
	}
	snap := cast.snapshot(h.now())
	snap.ResourceVersion = strconv.FormatInt(rv, 10)
	u := &Update{Kind: wire.KindDeleted, Key: key, ID: snap.ResourceVersion, rv: rv, Data: encode(snap), At: snap.Timestamp}
	u.encodeFrame()
	u.compact()
	h.tombstones = append(h.tombstones, tombstone{key: key, labels: cast.Labels, update: u})
	if over := len(h.tombstones) - h.maxTombstones; over > 0 {
		h.horizon = max(h.horizon, h.tombstones[over-1].update.rv)
		h.tombstones = append(h.tombstones[:0:0], h.tombstones[over:]...)
	}
	h.publish(u, cast.Labels)
}

func (h *Hub) observe(cast *Trimmed) {
	key := types.NamespacedName{Namespace: cast.Namespace, Name: cast.Name}
	h.mu.Lock()
	defer h.mu.Unlock()
	rv, _ := parseRV(cast.ResourceVersion)
	st, known := h.casts[key]
	var old *castv1alpha1.CastStatus
	if known {
		old = &st.cast.Status
	}
	kind, changed := Classify(old, &cast.Status)
	if !changed {
		// Labels matter to selectors even when status did not change; the
		// new object replaces the old one in the informer.
		st.cast = cast
		h.casts[key] = st
		h.maxRV, h.seenRV = max(h.maxRV, rv), max(h.seenRV, rv)
		return
	}
	if h.wentBack(key, st, known, rv) && h.rebase() {
		return
	}
	if h.synced && rv < h.maxRV {
		// A change below a version already handed out: a relist gives
		// changed Casts in key order, not version order. A stream that
		// ended between the two holds an id above this change, and a
		// resume from it would skip it. A watch never does this.
		h.distrustIssuedIDs()
	}
	h.maxRV, h.seenRV = max(h.maxRV, rv), max(h.seenRV, rv)
	snap := cast.snapshot(h.now())
	u := &Update{Kind: kind, Key: key, ID: cast.ResourceVersion, rv: rv,
		terminal: cast.Status.Phase.IsTerminal(), Data: encode(snap), At: snap.Timestamp}
	u.encodeFrame()
	h.casts[key] = state{cast: cast, rv: rv}
	h.publish(u, cast.Labels)
}

// publish hands u to every matching subscriber; pushes never block. It
// runs under the hub's lock, once per subscriber of the namespace: a
// slice walk, and no filter check for streams that take their whole
// namespace (their set already matched it). A stream that did not ask
// for u's event type costs one bit test: nothing is queued, nothing wakes.
func (h *Hub) publish(u *Update, lbls map[string]string) {
	for _, ns := range [2]string{u.Key.Namespace, ""} {
		set := h.byNS[ns]
		if set == nil {
			continue
		}
		for _, s := range set.subs {
			if s.kinds.Has(u.Kind) && (s.wholeScope || s.filter.matches(u.Key, lbls)) {
				s.push(u)
			}
		}
	}
}

// subSet is the subscribers of one namespace: a slice to publish over,
// and each one's position in it, so removal is a swap with the last.
type subSet struct {
	subs []*Subscriber
	pos  map[*Subscriber]int
}

func (ss *subSet) add(s *Subscriber) {
	if _, ok := ss.pos[s]; ok {
		return
	}
	ss.pos[s] = len(ss.subs)
	ss.subs = append(ss.subs, s)
}

func (ss *subSet) remove(s *Subscriber) {
	i, ok := ss.pos[s]
	if !ok {
		return
	}
	last := len(ss.subs) - 1
	ss.subs[i] = ss.subs[last]
	ss.pos[ss.subs[i]] = i
	ss.subs[last] = nil
	ss.subs = ss.subs[:last]
	delete(ss.pos, s)
}

// MarkSynced is called once the informer has its first full list;
// listRV is that list's resourceVersion (deletions before it are unknown).
func (h *Hub) MarkSynced(listRV string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rv, _ := parseRV(listRV)
	h.horizon = max(h.horizon, rv, h.maxRV)
	h.maxRV = max(h.maxRV, rv)
	h.synced = true
}

// distrustIssuedIDs makes a resume from any id handed out so far a full
// snapshot: something happened that such an id cannot place.
func (h *Hub) distrustIssuedIDs() { h.horizon = max(h.horizon, h.maxRV+1) }

// Synced reports whether the hub holds a full picture; streams wait for it.
func (h *Hub) Synced() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.synced
}

// Initial is what a new stream sends before live changes.
type Initial struct {
	// Updates are the states (and deletions, when resuming) to send, in
	// resourceVersion order.
	Updates []*Update
	// SyncedID is the id of the synced event: resuming from it misses
	// nothing.
	SyncedID string
	// Resumed is true when Updates hold only what changed after the
	// client's Last-Event-ID; false for a full snapshot.
	Resumed bool
}

// Subscribe registers a stream and returns what it must send first.
// Registration and the snapshot happen under one lock, so no change falls
// between them. A lastEventID the hub can answer exactly yields only the
// changes after it; any other (empty, malformed, older than the hub's
// memory) yields a full snapshot. Either way a Cast's state is sent as
// "status", or "complete" once terminal, and left out when f.Kinds lacks
// that type (deletions likewise): the hub keeps a Cast's latest state,
// not how it came about.
func (h *Hub) Subscribe(f Filter, lastEventID string) (*Subscriber, Initial) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := newSubscriber(f)
	if h.closed {
		s.close() // shutting down: the stream ends at once
	} else {
		h.subs[s] = struct{}{}
		set := h.byNS[f.Namespace]
		if set == nil {
			set = &subSet{pos: map[*Subscriber]int{}}
			h.byNS[f.Namespace] = set
		}
		set.add(s)
	}

	init := Initial{SyncedID: strconv.FormatInt(h.maxRV, 10)}
	last, ok := parseRV(lastEventID)
	// An id above everything this hub has seen comes from a replica
	// further ahead, or from a history the API server lost (an etcd
	// restore): the hub cannot tell which, so it answers in full.
	init.Resumed = ok && h.synced && last >= h.horizon && last <= h.maxRV
	// The states are rendered by the stream as it writes them (see
	// Update.AppendEvent), outside this lock; here each is only a pointer
	// to its (immutable) object, in one allocation for the whole snapshot.
	var states []Update
	for key, st := range h.casts {
		if f.matches(key, st.cast.Labels) && (!init.Resumed || st.rv > last) &&
			f.Kinds.Has(stateKind(st.cast.Status.Phase.IsTerminal())) {
			states = append(states, st.resting(key))
		}
	}
	for i := range states {
		init.Updates = append(init.Updates, &states[i])
	}
	if init.Resumed && f.Kinds.Has(wire.KindDeleted) {
		for _, t := range h.tombstones {
			if t.update.rv > last && f.matches(t.key, t.labels) {
				init.Updates = append(init.Updates, t.update)
			}
		}
	}
	sort.Slice(init.Updates, func(i, k int) bool { return init.Updates[i].rv < init.Updates[k].rv })
	return s, init
}

// Unsubscribe drops a stream's subscriber.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	if set := h.byNS[s.filter.Namespace]; set != nil {
		set.remove(s)
		if len(set.subs) == 0 {
			delete(h.byNS, s.filter.Namespace)
		}
	}
	h.mu.Unlock()
	s.close()
}

// Close ends every subscriber, for shutdown.
func (h *Hub) Close() {
	h.mu.Lock()
	subs := h.subs
	h.subs = map[*Subscriber]struct{}{}
	h.byNS = map[string]*subSet{}
	h.closed = true
	h.mu.Unlock()
	for s := range subs {
		s.close()
	}
}

// Get returns the JSON of one Cast's current state.
func (h *Hub) Get(key types.NamespacedName) ([]byte, bool) {
	h.mu.RLock()
	st, ok := h.casts[key]
	h.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return st.data(h.now()), true
}

// Known reports whether the Cast exists or was deleted within the hub's
// memory, so a single-Cast stream can tell "not found" from "deleted while
// you were away".
func (h *Hub) Known(key types.NamespacedName) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if _, ok := h.casts[key]; ok {
		return true
	}
	for _, t := range h.tombstones {
		if t.key == key {
			return true
		}
	}
	return false
}

// List returns the JSON of every matching Cast's current state, ordered by
// namespace and name.
func (h *Hub) List(f Filter) [][]byte {
	type item struct {
		key types.NamespacedName
		st  state
	}
	h.mu.RLock()
	items := make([]item, 0)
	for key, st := range h.casts {
		if f.matches(key, st.cast.Labels) {
			items = append(items, item{key, st})
		}
	}
	h.mu.RUnlock()
	slices.SortFunc(items, func(a, b item) int { return compareKeys(a.key, b.key) })
	now := h.now()
	out := make([][]byte, len(items))
	for i := range items {
		out[i] = items[i].st.data(now)
	}
	return out
}

// Position is the resourceVersion up to which every change has been
// offered to the subscribers (changes are published under the same lock
// that raises it). A stream that asks for it, then drains its subscriber
// and writes what it got, may tell its client to resume from there: every
// change at or below it that the stream wanted has been written. Streams
// that skip event types use it so their clients' resume point moves on
// with the changes they were not sent (see the streamer's heartbeat).
func (h *Hub) Position() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.maxRV
}

// Subscribers counts open subscriptions, for metrics.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}
