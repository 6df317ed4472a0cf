package streamer

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	toolscache "k8s.io/client-go/tools/cache"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// historyRebases counts the times the hub found the API server's
// resourceVersions gone back (an etcd restore) and started again.
var historyRebases = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "cast_streamer_history_rebases_total",
	Help: "Times the Cast resourceVersions went back (an etcd restore from a snapshot) and every stream was restarted with a full snapshot.",
})

func init() { metrics.Registry.MustRegister(historyRebases) }

// indexed is what client-go's shared informers offer beyond
// controller-runtime's Informer interface: the store the hub rebases from.
type indexed interface {
	GetIndexer() toolscache.Indexer
}

// sourceHub lets the hub rebuild its state from the informer's store when
// the API server's history went back (see hub.Hub.SetSource): the store
// already holds the relist that showed it. An informer without a store
// leaves the hub to make every resume a full snapshot instead.
func (s *Server) sourceHub(ctx context.Context, inf any) {
	idx, ok := inf.(indexed)
	if !ok {
		return
	}
	log := logf.FromContext(ctx).WithName("streamer")
	s.hub.SetSource(func() ([]any, string) {
		store := idx.GetIndexer()
		// Read before the list, so it is never ahead of the objects.
		rv := store.LastStoreSyncResourceVersion()
		return store.List(), rv
	}, func(from, to int64) {
		historyRebases.Inc()
		log.Info("Cast resourceVersions went back (etcd restored?): every stream restarts with a full snapshot",
			"highestHandedOut", from, "restartFrom", to)
	})
}
