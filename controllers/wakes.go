package controllers

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// wakes holds the next look at each idle running Cast (its next resync)
// and hands the due ones to the work queue when they come due. An idle
// Cast used to return RequeueAfter, and the work queue kept a timer item
// and its ready time for each, for ever; here it costs one map entry
// (about 60 bytes less per Cast: the queue's own maps keep the size a
// restart's burst gave them either way). A look that must come exactly on
// time (a timeout, a retry, a wait shorter than two grid steps) still goes
// through the work queue.
type wakes struct {
	mu  sync.Mutex
	due map[types.NamespacedName]int64 // unix nanoseconds, the reconciler's clock
	// earliest is no later than the earliest due; zero when none is.
	earliest int64
	// sooner tells the loop a wake earlier than the one it sleeps until
	// was set.
	sooner chan struct{}
}

func newWakes() *wakes {
	return &wakes{due: map[types.NamespacedName]int64{}, sooner: make(chan struct{}, 1)}
}

// set schedules the Cast's next look, replacing any earlier one.
func (w *wakes) set(key types.NamespacedName, at time.Time) {
	ns := at.UnixNano()
	w.mu.Lock()
	w.due[key] = ns
	sooner := w.earliest == 0 || ns < w.earliest
	if sooner {
		w.earliest = ns
	}
	w.mu.Unlock()
	if sooner {
		select {
		case w.sooner <- struct{}{}:
		default:
		}
	}
}

// cancel drops the Cast's scheduled look: it is being looked at now, and
// the look decides when the next one is.
func (w *wakes) cancel(key types.NamespacedName) {
	w.mu.Lock()
	delete(w.due, key)
	w.mu.Unlock()
}

// takeDue removes and returns the Casts due at now, and when the next one
// is due (zero: none is).
func (w *wakes) takeDue(now time.Time) (due []types.NamespacedName, next int64) {
	ns := now.UnixNano()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.earliest == 0 || w.earliest > ns {
		return nil, w.earliest
	}
	for key, at := range w.due {
		if at <= ns {
			due = append(due, key)
			delete(w.due, key)
		} else if next == 0 || at < next {
			next = at
		}
	}
	w.earliest = next
	return due, next
}

// startWakes is the controller's source of due wakes: it runs while the
// controller does (on the leader), handing each due Cast to the queue.
func (r *CastReconciler) startWakes(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	go r.deliverWakes(ctx, q)
	return nil
}

func (r *CastReconciler) deliverWakes(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next := r.wakes.takeDue(r.now())
		for _, key := range due {
			q.Add(reconcile.Request{NamespacedName: key})
		}
		wait := time.Hour
		if next != 0 {
			wait = time.Duration(next - r.now().UnixNano())
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wakes.sooner:
		}
	}
}

// sleepUntilWake ends a look at a running Cast that needs nothing before
// its next resync or timeout. A resync look sleeps in wakes; a timeout, or
// a look due within two grid steps, is queued with RequeueAfter, which
// keeps it exact.
func (r *CastReconciler) sleepUntilWake(cast *castv1alpha1.Cast, now time.Time) ctrl.Result {
	after := r.nextWake(cast, now)
	at := now.Add(after)
	deadline, timed := timeoutDeadline(cast)
	if (timed && !at.Before(deadline)) || after < 2*r.resyncInterval(cast)/wakeGridDivisor {
		return ctrl.Result{RequeueAfter: after}
	}
	r.wakes.set(types.NamespacedName{Namespace: cast.Namespace, Name: cast.Name}, at)
	return ctrl.Result{}
}
