package controllers

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// A run's lookup finds the Casts of that run and repository only, also
// when other Casts share its bucket, whether the run is known from the
// spec (attached) or the status (dispatched).
func TestCastsForRunKeepsOnlyTheRun(t *testing.T) {
	indexer := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{runIndexName: indexByRun})
	add := func(ns, name, repo string, specRun, statusRun int64) {
		c := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(name)},
			Spec: castv1alpha1.CastSpec{Repository: repo}, Status: castv1alpha1.CastStatus{RunID: statusRun}}
		if specRun != 0 {
			c.Spec.RunID = ptr.To(specRun)
		}
		if err := indexer.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	const run = 7_000_123
	add("a", "attached", "Org/Repo", run, 0)
	add("b", "dispatched", "org/repo", 0, run)
	add("c", "same-bucket", "org/repo", run+runBuckets, 0)
	add("d", "other-repo", "org/other", run, 0)
	add("e", "not-yet", "org/repo", 0, 0)
	add("f", "re-attached", "org/repo", run, run+2*runBuckets) // status wins over spec

	for _, tc := range []struct {
		repo string
		run  int64
		want []string
	}{
		{"org/repo", run, []string{"attached", "dispatched"}},
		{"ORG/REPO", run, []string{"attached", "dispatched"}},
		{"org/repo", run + runBuckets, []string{"same-bucket"}},
		{"org/repo", run + 2*runBuckets, []string{"re-attached"}},
		{"org/other", run, []string{"other-repo"}},
		{"org/repo", run + 1, nil},
	} {
		refs, err := castsForRun(indexer, tc.repo, tc.run)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range refs {
			if string(r.UID) != r.Name {
				t.Errorf("%s: UID %q", r.Name, r.UID)
			}
			got = append(got, r.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("run %d of %s: got %v, want %v", tc.run, tc.repo, got, tc.want)
		}
	}
}
