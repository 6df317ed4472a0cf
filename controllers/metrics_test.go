package controllers

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// The phase gauge counts Casts by phase, zeros included, from the
// informer's store.
func TestPhaseCollectorCounts(t *testing.T) {
	mk := func(name string, p castv1alpha1.CastPhase) *castv1alpha1.Cast {
		return &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Status: castv1alpha1.CastStatus{Phase: p}}
	}
	store := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	for _, c := range []*castv1alpha1.Cast{mk("a", castv1alpha1.PhaseQueued), mk("b", castv1alpha1.PhaseQueued), mk("c", castv1alpha1.PhaseSucceeded)} {
		if err := store.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	c := &phaseCollector{casts: func(context.Context) ([]any, error) { return store.List(), nil }}
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	got := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		got[d.GetLabel()[0].GetValue()] = d.GetGauge().GetValue()
	}
	want := map[string]float64{"Pending": 0, "Queued": 2, "Running": 0, "Succeeded": 1, "Failed": 0, "Cancelled": 0, "TimedOut": 0}
	for p, n := range want {
		if got[p] != n {
			t.Errorf("phase %s: %v, want %v (all: %v)", p, got[p], n, got)
		}
	}
}

// phaseGauge reads cast_operator_casts from the registry the manager's
// /metrics serves, by phase.
func phaseGauge() (map[string]float64, error) {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "cast_operator_casts" {
			continue
		}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return got, nil
}

// gaugeMatches says whether the phase gauge counts, phase by phase, the
// Casts the API server lists with opts (what the manager's cache sees).
func gaugeMatches(opts ...client.ListOption) func(g Gomega) {
	return func(g Gomega) {
		var all castv1alpha1.CastList
		g.Expect(k8s.List(context.Background(), &all, opts...)).To(Succeed())
		want := map[string]float64{}
		for _, c := range all.Items {
			if c.Status.Phase != "" {
				want[string(c.Status.Phase)]++
			}
		}
		got, err := phaseGauge()
		g.Expect(err).NotTo(HaveOccurred())
		for p, n := range want {
			g.Expect(got).To(HaveKeyWithValue(p, n), "Casts in phase %s", p)
		}
		for p, n := range got {
			g.Expect(n).To(Equal(want[p]), "Casts in phase %s", p)
		}
	}
}

var _ = Describe("Phase gauge", func() {
	It("counts the Casts the API server holds, by phase, from the running manager's cache", func() {
		runningCasts("gauge-org", 3, 7400)
		Eventually(gaugeMatches()).Should(Succeed())
	})
})
