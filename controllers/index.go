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

// runIndexName indexes Casts by "owner/repo#runID" so a webhook finds its
// Cast in the informer cache without listing every Cast.
//
// It is an index of the Cast informer's own, not a controller-runtime
// field index: IndexField keeps every value twice (once per namespace,
// once for all namespaces), and every run has its own value, so with
// 100,000 Casts the unused namespaced half alone held tens of MiB. The
// webhook only ever asks across namespaces.
const runIndexName = "spell.dev/run"

func runIndexKey(repository string, runID int64) string {
	return strings.ToLower(repository) + "#" + strconv.FormatInt(runID, 10)
}

// indexByRun is the index function: status.runID once known, spec.runID
// for a Cast attached before its first reconcile.
func indexByRun(obj any) ([]string, error) {
	cast, ok := obj.(*castv1alpha1.Cast)
	if !ok {
		return nil, fmt.Errorf("indexing runs: %T is not a Cast", obj)
	}
	id := cast.Status.RunID
	if id == 0 && cast.Spec.RunID != nil {
		id = *cast.Spec.RunID
	}
	if id == 0 {
		return nil, nil
	}
	return []string{runIndexKey(cast.Spec.Repository, id)}, nil
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
	objs, err := sii.GetIndexer().ByIndex(runIndexName, runIndexKey(repository, runID))
	if err != nil {
		return nil, fmt.Errorf("looking up casts for run %d of %s: %w", runID, repository, err)
	}
	out := make([]webhook.CastRef, 0, len(objs))
	for _, o := range objs {
		cast, ok := o.(*castv1alpha1.Cast)
		if !ok {
			return nil, fmt.Errorf("looking up casts for run %d of %s: the index holds a %T", runID, repository, o)
		}
		out = append(out, webhook.CastRef{NamespacedName: types.NamespacedName{Namespace: cast.Namespace, Name: cast.Name}, UID: cast.UID})
	}
	return out, nil
}
