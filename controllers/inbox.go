package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// Inbox carries observations from the webhook receiver to the reconciler,
// which alone writes status. Deliver never calls the API server, so the
// receiver answers GitHub at once; each Cast has at most one wake-up in
// flight however many events arrive for it.
type Inbox struct {
	mu      sync.Mutex
	runs    map[types.NamespacedName][]runstatus.Run
	jobs    map[types.NamespacedName]map[int64]runstatus.Job
	pending map[types.NamespacedName]bool
	wake    chan event.GenericEvent
}

// inboxBuffer bounds the Casts awaiting a wake-up; past it Deliver drops
// the wake-up, not the observation.
const inboxBuffer = 8192

// maxQueuedRuns bounds the run snapshots held for one Cast. They pile up
// only where nobody takes them: on a standby replica, or behind a stalled
// reconcile. Past the bound the earliest (by runstatus.Later) are dropped;
// the merge would have rejected them after the later ones anyway.
const maxQueuedRuns = 32

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox {
	return &Inbox{
		runs:    map[types.NamespacedName][]runstatus.Run{},
		jobs:    map[types.NamespacedName]map[int64]runstatus.Job{},
		pending: map[types.NamespacedName]bool{},
		wake:    make(chan event.GenericEvent, inboxBuffer),
	}
}

// Deliver queues obs for the Cast and wakes its reconciler.
func (b *Inbox) Deliver(cast types.NamespacedName, obs runstatus.Observation) {
	b.mu.Lock()
	if obs.Run != nil {
		b.runs[cast] = latestRuns(append(b.runs[cast], *obs.Run))
	}
	if obs.Job != nil {
		b.recordJob(cast, *obs.Job)
	}
	wake := !b.pending[cast]
	b.pending[cast] = true
	b.mu.Unlock()
	if !wake {
		return
	}
	obj := &castv1alpha1.Cast{}
	obj.Name, obj.Namespace = cast.Name, cast.Namespace
	select {
	case b.wake <- event.GenericEvent{Object: obj}:
	default:
		// Never hold GitHub's delivery up: the observation waits in the
		// inbox for the Cast's next reconcile (at the latest its resync),
		// and the next delivery for it tries the wake-up again.
		b.mu.Lock()
		delete(b.pending, cast)
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

// recordJob keeps the newest snapshot of each job.
func (b *Inbox) recordJob(cast types.NamespacedName, j runstatus.Job) {
	jobs := b.jobs[cast]
	if jobs == nil {
		jobs = map[int64]runstatus.Job{}
		b.jobs[cast] = jobs
	}
	if old, ok := jobs[j.ID]; !ok || runstatus.Newer(old, j) {
		jobs[j.ID] = j
	}
}

// Take returns the run snapshots queued for the Cast since the last Take,
// and every job snapshot known for it (jobs stay: progress needs them all).
func (b *Inbox) Take(cast types.NamespacedName) ([]runstatus.Run, []runstatus.Job) {
	b.mu.Lock()
	defer b.mu.Unlock()
	runs := b.runs[cast]
	delete(b.runs, cast)
	delete(b.pending, cast)
	jobs := make([]runstatus.Job, 0, len(b.jobs[cast]))
	for _, j := range b.jobs[cast] {
		jobs = append(jobs, j)
	}
	return runs, jobs
}

// Jobs returns every job snapshot known for the Cast, leaving queued runs
// and the wake-up state alone.
func (b *Inbox) Jobs(cast types.NamespacedName) []runstatus.Job {
	b.mu.Lock()
	defer b.mu.Unlock()
	jobs := make([]runstatus.Job, 0, len(b.jobs[cast]))
	for _, j := range b.jobs[cast] {
		jobs = append(jobs, j)
	}
	return jobs
}

// Return puts back run snapshots whose status write failed, ahead of any
// that arrived since, so the retry sees them again.
func (b *Inbox) Return(cast types.NamespacedName, runs []runstatus.Run) {
	if len(runs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.runs[cast] = latestRuns(append(append([]runstatus.Run(nil), runs...), b.runs[cast]...))
}

// ReplaceJobs records jobs read from the REST API, which see every job.
func (b *Inbox) ReplaceJobs(cast types.NamespacedName, jobs []runstatus.Job) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, j := range jobs {
		b.recordJob(cast, j)
	}
}

// Forget drops everything held for a Cast that finished or was deleted.
func (b *Inbox) Forget(cast types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.runs, cast)
	delete(b.jobs, cast)
	delete(b.pending, cast)
}

// Source is the channel the controller watches for wake-ups.
func (b *Inbox) Source() <-chan event.GenericEvent { return b.wake }

// ForgetDeleted drops what the inbox holds for each Cast as it is deleted,
// on every replica. The reconciler forgets Casts it finishes or finalizes,
// but a standby never reconciles, so without this it would keep the news
// of every Cast it was ever sent.
func (b *Inbox) ForgetDeleted(ctx context.Context, informers cache.Informers) error {
	inf, err := informers.GetInformer(ctx, &castv1alpha1.Cast{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("getting the Cast informer: %w", err)
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if cast, ok := obj.(client.Object); ok {
			b.Forget(client.ObjectKeyFromObject(cast))
		}
	}})
	if err != nil {
		return fmt.Errorf("watching Cast deletions: %w", err)
	}
	return nil
}
