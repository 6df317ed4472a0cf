// Package cli is the plumbing the commands that run a controller-runtime
// manager share (controller, streamer and dev), plus the flag-set helpers
// every command uses: one place, so the three managers cannot drift apart
// in their flags, leader election or cache settings.
package cli

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/spell-platform/cast-operator/internal/scheme"
)

// ManagerFlags are the flags every command that runs a manager shares.
type ManagerFlags struct {
	metricsAddr    string
	metricsSecure  bool
	metricsCertDir string
	probeAddr      string
	pprofAddr      string
	zap            zap.Options
}

// Bind registers the flags on fs with the command's default addresses;
// secureDefault is --metrics-secure's default (false only for dev, whose
// metrics stay on loopback).
func (f *ManagerFlags) Bind(fs *flag.FlagSet, metricsDefault, probeDefault string, secureDefault bool) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", metricsDefault, "address of the Prometheus /metrics endpoint; 0 disables it")
	fs.BoolVar(&f.metricsSecure, "metrics-secure", secureDefault, "serve /metrics over HTTPS to callers whose Kubernetes token may get the nonResourceURL /metrics (TokenReview and SubjectAccessReview: 401 without a token, 403 without RBAC); false serves plain HTTP to anyone who can reach the address")
	fs.StringVar(&f.metricsCertDir, "metrics-cert-dir", "", "directory holding tls.crt and tls.key for --metrics-secure, reloaded when they change; default: a self-signed certificate generated at start")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", probeDefault, "address of the /healthz and /readyz probes; 0 disables them")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0", "address of the Go /debug/pprof endpoints, for profiling a live process; 0 disables them (the default: they expose internals and cost CPU when read)")
	f.zap = zap.Options{Development: true}
	f.zap.BindFlags(fs)
}

// NewFlagSet is a command's flag set: errors and help go to out, and the
// caller, not the flag package, decides the exit code.
func NewFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// Parse parses args and refuses positional arguments, which no manager
// command takes.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// LeaderFlags tune leader election among controller replicas. The
// timings trade failover speed (a killed leader is replaced after at most
// the lease duration) against API traffic and tolerance of a slow API
// server (a leader that cannot renew within the deadline steps down).
type LeaderFlags struct {
	enabled             bool
	namespace           string
	lease, renew, retry time.Duration
}

// Bind registers the --leader-elect flags on fs.
func (f *LeaderFlags) Bind(fs *flag.FlagSet) {
	fs.BoolVar(&f.enabled, "leader-elect", false, "elect one active controller among replicas; a clean shutdown hands the lease over at once")
	fs.StringVar(&f.namespace, "leader-elect-namespace", "", "namespace of the leader-election Lease; default: the Pod's own namespace (required outside a cluster)")
	fs.DurationVar(&f.lease, "leader-elect-lease-duration", 15*time.Second, "how long standbys wait after the last renewal before taking over")
	fs.DurationVar(&f.renew, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it steps down")
	fs.DurationVar(&f.retry, "leader-elect-retry-period", 2*time.Second, "how often replicas try to acquire or renew the lease")
}

// Validate refuses timings under which two replicas could both act as
// leader, or the leader could never renew in time.
func (f *LeaderFlags) Validate() error {
	if !f.enabled {
		return nil
	}
	// client-go's own rules, checked here to fail at start-up with a
	// usage error rather than later inside the manager.
	if f.retry <= 0 || f.renew >= f.lease || float64(f.renew) <= leaderelection.JitterFactor*float64(f.retry) {
		return fmt.Errorf("leader election needs 0 < %.1f × retry period (%s) < renew deadline (%s) < lease duration (%s)",
			leaderelection.JitterFactor, f.retry, f.renew, f.lease)
	}
	return nil
}

// apply sets the leader-election options; the zero value disables it.
func (f *LeaderFlags) apply(o *ctrl.Options) {
	if !f.enabled {
		return
	}
	o.LeaderElection = true
	o.LeaderElectionID = "cast-operator.spell.dev"
	o.LeaderElectionNamespace = f.namespace
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &f.lease, &f.renew, &f.retry
	// The process exits as soon as the manager stops, so handing the
	// lease over early is safe and spares a rollout the lease duration.
	o.LeaderElectionReleaseOnCancel = true
}

// NewManager builds the manager every command runs its components in;
// tune adjusts the options per command (the streamer trims its cache).
func NewManager(cfg *rest.Config, f *ManagerFlags, leader LeaderFlags, tune ...func(*ctrl.Options)) (ctrl.Manager, error) {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap)))
	logVersion()
	metrics, err := f.metricsOptions()
	if err != nil {
		return nil, err
	}
	opts := ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metrics,
		HealthProbeBindAddress: f.probeAddr,
		PprofBindAddress:       f.pprofAddr,
		// Nothing reads managedFields, and they are about half of a Cast's
		// size in the informer cache: at 100,000 Casts that is the largest
		// share of both processes' memory.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	}
	leader.apply(&opts)
	for _, t := range tune {
		t(&opts)
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding readyz check: %w", err)
	}
	return mgr, nil
}

// metricsOptions is the metrics server kubebuilder v4 scaffolds: HTTPS
// behind the API server's authentication and RBAC unless --metrics-secure
// is off, with the certificate from --metrics-cert-dir (controller-runtime
// watches the files) or a self-signed one.
func (f *ManagerFlags) metricsOptions() (metricsserver.Options, error) {
	o := metricsserver.Options{BindAddress: f.metricsAddr}
	if !f.metricsSecure {
		if f.metricsCertDir != "" {
			return o, errors.New("--metrics-cert-dir needs --metrics-secure")
		}
		return o, nil
	}
	o.SecureServing = true
	o.FilterProvider = metricsAuth
	// HTTP/1.1 only, as kubebuilder scaffolds it: Prometheus needs nothing
	// more, and it keeps the HTTP/2 Rapid Reset and Stream Cancellation
	// attacks (CVE-2023-44487, CVE-2023-39325) off this port.
	o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	if f.metricsCertDir != "" {
		o.CertDir, o.CertName, o.KeyName = f.metricsCertDir, "tls.crt", "tls.key"
		// controller-runtime falls back to a self-signed certificate when
		// the files are missing; a directory given on purpose must hold them.
		for _, name := range []string{o.CertName, o.KeyName} {
			if _, err := os.Stat(filepath.Join(o.CertDir, name)); err != nil {
				return o, fmt.Errorf("--metrics-cert-dir: %w", err)
			}
		}
	}
	return o, nil
}
