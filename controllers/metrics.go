package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

var castsDesc = prometheus.NewDesc("cast_operator_casts",
	"Casts by phase, counted from the controller's cache at scrape time.", []string{"phase"}, nil)

// phaseCollector counts Casts by phase when scraped, so the gauge can never
// drift from the cluster the way inc/dec bookkeeping can.
type phaseCollector struct {
	mu     sync.Mutex
	reader client.Reader
}

var phases = phaseCollector{}

func registerPhaseMetrics(reader client.Reader) {
	phases.mu.Lock()
	defer phases.mu.Unlock()
	if phases.reader == nil {
		metrics.Registry.MustRegister(&phases)
	}
	phases.reader = reader
}

func (c *phaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- castsDesc }

func (c *phaseCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	reader := c.reader
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list castv1alpha1.CastList
	// Read-only, so the cache's own objects will do: a copy of every Cast
	// on each scrape was 100,000 deep copies at 100,000 Casts.
	if err := reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(castsDesc, err)
		return
	}
	counts := map[castv1alpha1.CastPhase]int{}
	for _, p := range []castv1alpha1.CastPhase{
		castv1alpha1.PhasePending, castv1alpha1.PhaseQueued, castv1alpha1.PhaseRunning, castv1alpha1.PhaseSucceeded,
		castv1alpha1.PhaseFailed, castv1alpha1.PhaseCancelled, castv1alpha1.PhaseTimedOut,
	} {
		counts[p] = 0
	}
	for i := range list.Items {
		counts[list.Items[i].Status.Phase]++
	}
	for p, n := range counts {
		if p != "" {
			ch <- prometheus.MustNewConstMetric(castsDesc, prometheus.GaugeValue, float64(n), string(p))
		}
	}
}
