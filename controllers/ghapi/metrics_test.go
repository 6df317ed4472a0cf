package ghapi

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/spell-platform/cast-operator/test/ghapitest"
)

func counterValue(t *testing.T, op, code string) float64 {
	t.Helper()
	var m dto.Metric
	if err := requestsTotal.WithLabelValues(op, code).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	srv := newFake(t)
	srv.SetDispatchMode(ghapitest.RejectReturnRunDetails)
	srv.SetRateLimit(1234, time.Now().Add(time.Hour))
	c := newClient(t, srv, "tok")

	ok, missing := counterValue(t, "get_run", "200"), counterValue(t, "get_run", "404")
	d422, d204 := counterValue(t, "dispatch", "422"), counterValue(t, "dispatch", "204")
	lists := counterValue(t, "list_runs", "200")

	d, err := c.Dispatch(ctxT(t), testRepo, "cast.yml", "main", nil, castID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRun(ctxT(t), testRepo, d.RunID); err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetRun(ctxT(t), testRepo, 1)

	for _, tc := range []struct {
		op, code string
		want     float64
	}{
		{"dispatch", "422", d422 + 1}, {"dispatch", "204", d204 + 1}, {"list_runs", "200", lists + 1},
		{"get_run", "200", ok + 1}, {"get_run", "404", missing + 1},
	} {
		if got := counterValue(t, tc.op, tc.code); got != tc.want {
			t.Errorf("requests{%s,%s} = %v, want %v", tc.op, tc.code, got, tc.want)
		}
	}

	// Five requests spent five of the 1234 the fake granted.
	var m dto.Metric
	if err := rateLimitRemaining.WithLabelValues(c.Budget().Name).Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetGauge().GetValue(); got != 1229 {
		t.Errorf("rate limit gauge = %v, want 1229", got)
	}
	if rl := c.RateLimit(); rl.Remaining != 1229 || rl.Limit != 5000 {
		t.Errorf("RateLimit = %+v", rl)
	}

	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range families {
		found[f.GetName()] = true
	}
	for _, name := range []string{"cast_operator_github_api_requests_total", "cast_operator_github_rate_limit_remaining"} {
		if !found[name] {
			t.Errorf("%s not registered with controller-runtime's registry", name)
		}
	}
}
