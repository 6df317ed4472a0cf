package controllers

import (
	"context"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// News for a Cast is applied at once while the reconciler keeps up. When it
// falls behind (a burst of deliveries: every job of a matrix, or a
// thousand runs finishing), each Cast's news waits a moment in the inbox
// before its reconcile, so what arrives meanwhile is written with it: one
// status write for several deliveries instead of one each. Status writes of
// a custom resource are the API server's most expensive requests, and the
// journal's writes, which every webhook answer waits for, queue behind them.
const (
	// busyQueue is how many Casts may wait for a reconcile before news is
	// held back: more than the workers take at once.
	busyQueue = 2 * reconcileWorkers
	// coalesceWindow is how long news is held back at most.
	coalesceWindow = time.Second
)

// newsHandler enqueues a Cast woken by the inbox, at once or, when the
// queue is long, after coalesceWindow.
func newsHandler() handler.TypedEventHandler[client.Object, reconcile.Request] {
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		GenericFunc: func(_ context.Context, e event.TypedGenericEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}
			q.AddAfter(req, newsDelay(q.Len()))
		},
	}
}

// newsDelay is how long news waits, given how many Casts already wait.
func newsDelay(queued int) time.Duration {
	if queued < busyQueue {
		return 0
	}
	return coalesceWindow
}
