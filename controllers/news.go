package controllers

import (
	"time"

	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// newsState is what the reconciler remembers of a Cast's news: when it
// last had any, and a mark of the news it has seen in status. Webhook news
// reaches status from any replica (Receipt), so the leader learns of it
// only as a status it did not write: a mark that moved.
type newsState struct {
	at time.Time
	// mark is the news last seen in status; prev the one before it, which
	// a cache that lags behind this process's own write may still show.
	mark, prev uint64
	seen       bool
}

// noticeNews counts news some other writer stored (a replica's webhook
// receipt) as news for the resync schedule, and as proof that the
// repository's webhook delivers, as if this process had received it. The
// first look after a start only takes the mark: a restarted controller
// resyncs what it has not heard of since it started.
func (r *CastReconciler) noticeNews(cast *castv1alpha1.Cast, now time.Time) {
	mark := runstatus.NewsMark(&cast.Status)
	r.mu.Lock()
	n := r.news[cast.UID]
	moved := n.seen && mark != n.mark && mark != n.prev
	if moved {
		n.at, n.prev = now, n.mark
	}
	n.mark, n.seen = mark, true
	r.news[cast.UID] = n
	r.mu.Unlock()
	if moved && r.Activity != nil && cast.Status.RunID != 0 {
		r.Activity.Heard(cast.Spec.Repository)
	}
}

// wrote takes the mark of a status this reconciler stored, so its own news
// (a resync) is not taken for a webhook's.
func (r *CastReconciler) wrote(cast *castv1alpha1.Cast) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.news[cast.UID]
	n.prev, n.mark, n.seen = n.mark, runstatus.NewsMark(&cast.Status), true
	r.news[cast.UID] = n
}

// statusChanged lets status updates through to the reconciler: webhook
// news stored by any replica arrives that way.
var statusChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*castv1alpha1.Cast)
		cur, ok2 := e.ObjectNew.(*castv1alpha1.Cast)
		return ok1 && ok2 && runstatus.NewsMark(&old.Status) != runstatus.NewsMark(&cur.Status)
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}
