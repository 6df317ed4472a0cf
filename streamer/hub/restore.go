package hub

import (
	"k8s.io/apimachinery/pkg/types"
)

// Source lists the informer's objects and its store's resourceVersion (""
// when the store does not tell). The hub reads it only to rebase.
type Source func() (objs []any, resourceVersion string)

// SetSource gives the hub the informer's store, to rebuild its state from
// when the API server's history went back, and onRebase, called (under the
// hub's lock: keep it short) with the highest resourceVersion handed out
// before and the one the hub starts again from.
func (h *Hub) SetSource(src Source, onRebase func(from, to int64)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.source, h.onRebase = src, onRebase
}

// Rebases counts the times the hub found the API server's history gone
// back and started again from the informer's store.
func (h *Hub) Rebases() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rebases
}

// wentBack reports whether a status change at rv (of the Cast key, st
// when known) proves that the API server's history went back: a Cast
// never gets an older resourceVersion than one it had, nor comes back
// after its deletion with a version from before it, in one history; a
// relist delivers its objects in key order, so only a Cast's own versions
// can be compared. Going back is what an etcd restore from a snapshot
// does, with or without --bump-revision: the Casts changed after the
// snapshot come back with their old versions, the deleted ones come back.
// It costs one comparison for a change above every version the hub has
// seen (every change of a watch), and is never asked about unchanged
// objects (resyncs, relists).
func (h *Hub) wentBack(key types.NamespacedName, st state, known bool, rv int64) bool {
	if !h.synced || rv <= 0 || rv > h.seenRV {
		return false
	}
	if known {
		prev, ok := parseRV(st.cast.ResourceVersion)
		return ok && rv < prev
	}
	for _, t := range h.tombstones {
		if t.key == key && t.update.rv > rv {
			return true
		}
	}
	return false
}

// rebase starts the hub again from its source, the informer's store,
// which already holds the relist the going-back change came from. Every
// id handed out before is now untrusted: a resume from one of them gets a
// full snapshot. Every open stream ends, so its client reconnects and gets
// that full snapshot, which its client accepts even where it is older than
// what it showed (streamer/client, the dashboard). Without a source
// (tests) it only makes resumes full and returns false: the caller then
// applies the change as usual. Runs under h.mu.
func (h *Hub) rebase() bool {
	from := h.maxRV
	h.distrustIssuedIDs()
	h.tombstones = nil
	subs := h.subs
	h.subs, h.byNS = map[*Subscriber]struct{}{}, map[string]*subSet{}
	for s := range subs {
		s.rebased.Store(true)
		s.close()
	}
	h.rebases++
	if h.source == nil {
		return false
	}
	objs, listRV := h.source()
	casts := make(map[types.NamespacedName]state, len(objs))
	var top int64
	for _, obj := range objs {
		cast, ok := asTrimmed(obj)
		if !ok {
			continue
		}
		rv, _ := parseRV(cast.ResourceVersion)
		top = max(top, rv)
		casts[types.NamespacedName{Namespace: cast.Namespace, Name: cast.Name}] = state{cast: cast, rv: rv}
	}
	h.casts = casts
	storeRV, _ := parseRV(listRV)
	// The events of this relist still queued for the hub carry the states
	// taken here, and pass as unchanged (older ones, from a store that
	// moved on meanwhile, prove going back again and rebase once more).
	h.seenRV = top
	h.maxRV = max(top, storeRV)
	if h.onRebase != nil {
		h.onRebase(from, h.maxRV)
	}
	return true
}
