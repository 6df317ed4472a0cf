package controllers

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/journal"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// Inbox carries the journal's news from the leader's feed to the
// reconciler, which alone writes status, and tells the feed which journal
// batches every Cast they name has taken in, so they can be deleted. Each
// Cast has at most one wake-up in flight however much news arrives for it,
// so a burst of deliveries for one Cast costs one status write.
type Inbox struct {
	mu sync.Mutex
	// news is keyed by name, then UID: a Cast deleted and created again
	// under its name must not take its predecessor's news.
	news    map[types.NamespacedName]map[types.UID]*News
	pending map[types.NamespacedName]bool
	// batches counts, per journal batch, the Casts whose part of it is not
	// yet in status; known keeps a batch replayed by a resync from being
	// counted twice while it waits to be deleted.
	batches map[string]int
	known   map[string]bool
	applied []string
	signal  chan struct{}
	wake    chan event.GenericEvent
}

// News is what the inbox holds for one Cast: run snapshots (the latest
// few), the newest snapshot of each job, and the journal batches they came
// from.
type News struct {
	Runs    []runstatus.Run
	Jobs    []runstatus.Job
	uid     types.UID
	batches []string
}

// inboxBuffer bounds the Casts awaiting a wake-up; past it DeliverBatch
// drops the wake-up, not the news.
const inboxBuffer = 8192

// maxQueuedRuns bounds the run snapshots held for one Cast behind a
// stalled reconcile. Past the bound the earliest (by runstatus.Later) are
// dropped; the merge would have rejected them after the later ones anyway.
const maxQueuedRuns = 32

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox {
	return &Inbox{
		news:    map[types.NamespacedName]map[types.UID]*News{},
		pending: map[types.NamespacedName]bool{},
		batches: map[string]int{},
		known:   map[string]bool{},
		signal:  make(chan struct{}, 1),
		wake:    make(chan event.GenericEvent, inboxBuffer),
	}
}

// DeliverBatch queues a journal batch's news and wakes each Cast it names.
// A batch already delivered is ignored: the informer replays objects.
func (b *Inbox) DeliverBatch(batch string, entries []journal.Entry) {
	b.mu.Lock()
	if b.known[batch] {
		b.mu.Unlock()
		return
	}
	b.known[batch] = true
	var wake []types.NamespacedName
	for _, e := range entries {
		key := e.Cast()
		byUID := b.news[key]
		if byUID == nil {
			byUID = map[types.UID]*News{}
			b.news[key] = byUID
		}
		n := byUID[e.UID]
		if n == nil {
			n = &News{uid: e.UID}
			byUID[e.UID] = n
		}
		if !slices.Contains(n.batches, batch) {
			n.batches = append(n.batches, batch)
			b.batches[batch]++
		}
		n.add(e.Observation)
		if !b.pending[key] {
			b.pending[key] = true
			wake = append(wake, key)
		}
	}
	if b.batches[batch] == 0 {
		b.doneLocked(batch)
	}
	b.mu.Unlock()
	for _, key := range wake {
		b.wakeUp(key)
	}
}

// absorb adds news that arrived after n's.
func (n *News) absorb(later *News) {
	n.Runs = latestRuns(append(n.Runs, later.Runs...))
	for _, j := range later.Jobs {
		n.addJob(j)
	}
	n.batches = append(n.batches, later.batches...)
}

func (n *News) add(obs runstatus.Observation) {
	if obs.Run != nil {
		n.Runs = latestRuns(append(n.Runs, *obs.Run))
	}
	if obs.Job != nil {
		n.addJob(*obs.Job)
	}
}

// addJob keeps one snapshot per job, the newest: ApplyJob keeps the
// newer of what it is given and what status holds, so queueing every
// snapshot gains nothing, but keeping a late older delivery over a newer
// one would lose the newer news.
func (n *News) addJob(j runstatus.Job) {
	for i := range n.Jobs {
		if n.Jobs[i].ID == j.ID {
			if runstatus.Supersedes(j, n.Jobs[i]) {
				n.Jobs[i] = j
			}
			return
		}
	}
	n.Jobs = append(n.Jobs, j)
}

func (b *Inbox) wakeUp(key types.NamespacedName) {
	obj := &castv1alpha1.Cast{}
	obj.Name, obj.Namespace = key.Name, key.Namespace
	select {
	case b.wake <- event.GenericEvent{Object: obj}:
	default:
		// The news waits in the inbox for the Cast's next reconcile (at
		// the latest its resync), and the next batch naming it tries the
		// wake-up again.
		b.mu.Lock()
		delete(b.pending, key)
		b.mu.Unlock()
	}
}

// latestRuns keeps the maxQueuedRuns latest snapshots, in arrival order.
func latestRuns(runs []runstatus.Run) []runstatus.Run {
	for len(runs) > maxQueuedRuns {
		first := 0
		for i := range runs {
			if runstatus.Later(runs[first], runs[i]) {
				first = i
			}
		}
		runs = slices.Delete(runs, first, first+1)
	}
	return runs
}

// Has reports whether news waits for the Cast.
func (b *Inbox) Has(cast types.NamespacedName) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.news[cast]) > 0
}

// Retry puts a batch whose delete failed back on the list to delete.
func (b *Inbox) Retry(batch string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.toDeleteLocked(batch)
}

// Take hands the reconciler the news for the Cast with this UID (or
// stored without one); it reports back with Applied once the news is in
// status, or Return if the write failed. News for another UID stays: see
// HasOthers.
func (b *Inbox) Take(cast types.NamespacedName, uid types.UID) News {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.pending, cast)
	byUID := b.news[cast]
	out := News{uid: uid}
	for _, id := range []types.UID{"", uid} {
		n := byUID[id]
		if n == nil {
			continue
		}
		delete(byUID, id)
		out.absorb(n)
	}
	if len(byUID) == 0 {
		delete(b.news, cast)
	}
	return out
}

// HasOthers reports whether news waits for a Cast of this name with
// another UID: one deleted and created again (its news is void), or one
// the reader's cache has not seen yet (its news must wait).
func (b *Inbox) HasOthers(cast types.NamespacedName, uid types.UID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.news[cast] {
		if id != "" && id != uid {
			return true
		}
	}
	return false
}

// ReleaseOthers releases the news for every UID of the name but uid: the
// API server says those Casts are gone.
func (b *Inbox) ReleaseOthers(cast types.NamespacedName, uid types.UID) {
	b.mu.Lock()
	var void []*News
	for id, n := range b.news[cast] {
		if id != "" && id != uid {
			void = append(void, n)
			delete(b.news[cast], id)
		}
	}
	if len(b.news[cast]) == 0 {
		delete(b.news, cast)
	}
	b.mu.Unlock()
	for _, n := range void {
		b.Applied(*n)
	}
}

// Return puts back news whose status write failed, ahead of any that
// arrived since, so the retry sees it again.
func (b *Inbox) Return(cast types.NamespacedName, taken News) {
	if len(taken.Runs)+len(taken.Jobs)+len(taken.batches) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	byUID := b.news[cast]
	if byUID == nil {
		byUID = map[types.UID]*News{}
		b.news[cast] = byUID
	}
	// A batch delivered once is never queued again, so the news that
	// arrived since holds other batches than taken's.
	if later := byUID[taken.uid]; later != nil {
		taken.absorb(later)
	}
	byUID[taken.uid] = &taken
}

// Applied records that taken is in status (or that its Cast is gone):
// batches no Cast still waits for may now be deleted.
func (b *Inbox) Applied(taken News) {
	if len(taken.batches) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, batch := range taken.batches {
		if _, waiting := b.batches[batch]; !waiting {
			continue
		}
		if b.batches[batch]--; b.batches[batch] <= 0 {
			b.doneLocked(batch)
		}
	}
}

// Forget drops what the inbox holds for a Cast that finished or is gone;
// its batches count as applied.
func (b *Inbox) Forget(cast types.NamespacedName) {
	b.mu.Lock()
	byUID := b.news[cast]
	delete(b.news, cast)
	delete(b.pending, cast)
	b.mu.Unlock()
	for _, n := range byUID {
		b.Applied(*n)
	}
}

func (b *Inbox) doneLocked(batch string) {
	delete(b.batches, batch)
	b.toDeleteLocked(batch)
}

func (b *Inbox) toDeleteLocked(batch string) {
	b.applied = append(b.applied, batch)
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// AppliedBatches returns, once, the batches every Cast they name has taken
// in; Signal fires when there are more.
func (b *Inbox) AppliedBatches() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.applied
	b.applied = nil
	return out
}

// BatchDeleted lets the inbox forget a batch once it is gone from the
// journal and no Cast waits for it, so its name costs no memory.
func (b *Inbox) BatchDeleted(batch string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, waiting := b.batches[batch]; !waiting {
		delete(b.known, batch)
	}
}

// Signal fires when AppliedBatches has more.
func (b *Inbox) Signal() <-chan struct{} { return b.signal }

// Source is the channel the controller watches for wake-ups.
func (b *Inbox) Source() <-chan event.GenericEvent { return b.wake }
