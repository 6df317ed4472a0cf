package controllers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// The phase gauge counts Casts by phase, zeros included, read with the
// no-copy list option the cache honours.
func TestPhaseCollectorCounts(t *testing.T) {
	mk := func(name string, p castv1alpha1.CastPhase) *castv1alpha1.Cast {
		return &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Status: castv1alpha1.CastStatus{Phase: p}}
	}
	reader := fake.NewClientBuilder().WithScheme(localcluster.Scheme()).WithObjects(
		mk("a", castv1alpha1.PhaseQueued), mk("b", castv1alpha1.PhaseQueued), mk("c", castv1alpha1.PhaseSucceeded)).Build()
	c := &phaseCollector{reader: reader}
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
