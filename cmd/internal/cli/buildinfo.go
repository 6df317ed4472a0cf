package cli

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/spell-platform/cast-operator/internal/version"
)

// buildInfo is 1 with the build's identity as labels, so a dashboard or
// an alert can tell which release each replica runs during a rollout.
var buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "cast_operator_build_info",
	Help: "Always 1; the labels name the release, commit and Go version of the running binary.",
}, []string{"version", "commit", "goversion"})

func init() {
	v := version.Get()
	buildInfo.WithLabelValues(v.Version, v.Commit, v.GoVersion).Set(1)
	metrics.Registry.MustRegister(buildInfo)
}

// logVersion says at start-up which build is running.
func logVersion() {
	v := version.Get()
	ctrl.Log.WithName("setup").Info("starting", "version", v.Version, "commit", v.Commit, "modified", v.Modified, "go", v.GoVersion)
}
