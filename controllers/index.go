package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/webhook"
)

// runIndexName indexes Casts by run so a webhook finds its Cast in the
// informer cache without listing every Cast.
//
// It is an index of the Cast informer's own, not a controller-runtime
// field index: IndexField keeps every value twice (once per namespace,
// once for all namespaces). The webhook only ever asks across namespaces.
//
// Its values are buckets of run IDs (the ID modulo runBuckets), not one
// value per run: the indexer keeps a set per value, and a set holding one
// Cast cost about 250 bytes, an eighth of a cached Cast. A lookup reads
// one bucket (about 25 Casts at 100,000) and keeps the Casts of the run.
const runIndexName = "spell.dev/run-bucket"

// runBuckets spreads GitHub's run IDs, which are sequential, evenly.
const runBuckets = 4096

// bucketNames are the index values, made once: an index value is kept
// as given, and one string per Cast would be the cost the buckets save.
var bucketNames = func() (names [runBuckets]string) {
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}()

func runBucket(runID int64) string {
	return bucketNames[(runID%runBuckets+runBuckets)%runBuckets]
}

// runOf is the run a Cast tracks: status.runID once known, spec.runID for
// a Cast attached before its first reconcile; 0 for none yet.
func runOf(cast *castv1alpha1.Cast) int64 {
	if cast.Status.RunID != 0 {
		return cast.Status.RunID
	}
	if cast.Spec.RunID != nil {
		return *cast.Spec.RunID
	}
	return 0
}

// indexByRun is the index function.
func indexByRun(obj any) ([]string, error) {
	cast, ok := obj.(*castv1alpha1.Cast)
	if !ok {
		return nil, fmt.Errorf("indexing runs: %T is not a Cast", obj)
	}
	id := runOf(cast)
	if id == 0 {
		return nil, nil
	}
	return []string{runBucket(id)}, nil
}

// addRunIndex registers the run index on the cache's Cast informer; it
// must run before the cache starts.
func addRunIndex(ctx context.Context, c cache.Informers) error {
	inf, err := c.GetInformer(ctx, &castv1alpha1.Cast{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("getting the Cast informer: %w", err)
	}
	if err := inf.AddIndexers(toolscache.Indexers{runIndexName: indexByRun}); err != nil {
		return fmt.Errorf("indexing casts by run: %w", err)
	}
	return nil
}

// RunIndex answers the webhook receiver's question "which Casts track this
// run?" from the manager's cache, whose Cast informer the reconciler's
// SetupWithManager indexed by run.
type RunIndex struct {
	Cache cache.Informers
}

// CastsForRun lists the Casts, in any namespace, that track the run, with
// their UIDs. It copies no Cast.
func (i RunIndex) CastsForRun(ctx context.Context, repository string, runID int64) ([]webhook.CastRef, error) {
	inf, err := i.Cache.GetInformer(ctx, &castv1alpha1.Cast{})
	if err != nil {
		return nil, fmt.Errorf("looking up casts for run %d of %s: %w", runID, repository, err)
	}
	sii, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return nil, fmt.Errorf("looking up casts for run %d of %s: the Cast informer (%T) has no indexer", runID, repository, inf)
	}
	return castsForRun(sii.GetIndexer(), repository, runID)
}

// castsForRun reads the run's bucket and keeps the Casts of that run and
// repository.
func castsForRun(indexer toolscache.Indexer, repository string, runID int64) ([]webhook.CastRef, error) {
	objs, err := indexer.ByIndex(runIndexName, runBucket(runID))
	if err != nil {
		return nil, fmt.Errorf("looking up casts for run %d of %s: %w", runID, repository, err)
	}
	var out []webhook.CastRef
	for _, o := range objs {
		cast, ok := o.(*castv1alpha1.Cast)
		if !ok {
			return nil, fmt.Errorf("looking up casts for run %d of %s: the index holds a %T", runID, repository, o)
		}
		if runOf(cast) != runID || !strings.EqualFold(cast.Spec.Repository, repository) {
			continue
		}
		out = append(out, webhook.CastRef{NamespacedName: types.NamespacedName{Namespace: cast.Namespace, Name: cast.Name}, UID: cast.UID})
	}
	return out, nil
}
