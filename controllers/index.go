package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// runIndexField indexes Casts by "owner/repo#runID" so a webhook finds its
// Cast in the informer cache without listing every Cast.
const runIndexField = "spell.dev/run"

func runIndexKey(repository string, runID int64) string {
	return strings.ToLower(repository) + "#" + strconv.FormatInt(runID, 10)
}

// indexByRun is the field indexer: status.runID once known, spec.runID for
// a Cast attached before its first reconcile.
func indexByRun(obj client.Object) []string {
	cast, ok := obj.(*castv1alpha1.Cast)
	if !ok {
		return nil
	}
	id := cast.Status.RunID
	if id == 0 && cast.Spec.RunID != nil {
		id = *cast.Spec.RunID
	}
	if id == 0 {
		return nil
	}
	return []string{runIndexKey(cast.Spec.Repository, id)}
}

// RunIndex answers the webhook receiver's question "which Casts track this
// run?" from the manager's cache.
type RunIndex struct {
	Reader client.Reader
}

// CastsForRun lists the Casts, in any namespace, that track the run.
func (i RunIndex) CastsForRun(ctx context.Context, repository string, runID int64) ([]types.NamespacedName, error) {
	var list castv1alpha1.CastList
	if err := i.Reader.List(ctx, &list, client.MatchingFields{runIndexField: runIndexKey(repository, runID)}); err != nil {
		return nil, fmt.Errorf("looking up casts for run %d of %s: %w", runID, repository, err)
	}
	out := make([]types.NamespacedName, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, client.ObjectKeyFromObject(&list.Items[i]))
	}
	return out, nil
}
