package main

import (
	"flag"
	"fmt"
	"io"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/streamer"
)

// managerFlags are the flags every command that runs a manager shares.
type managerFlags struct {
	metricsAddr string
	probeAddr   string
	zap         zap.Options
}

func (f *managerFlags) bind(fs *flag.FlagSet, metricsDefault, probeDefault string) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", metricsDefault, "address of the Prometheus /metrics endpoint; 0 disables it")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", probeDefault, "address of the /healthz and /readyz probes; 0 disables them")
	f.zap = zap.Options{Development: true}
	f.zap.BindFlags(fs)
}

func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// newManager builds the manager every command runs its components in.
func newManager(cfg *rest.Config, f *managerFlags, leaderElect bool) (ctrl.Manager, error) {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap)))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 localcluster.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress: f.probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "cast-operator.spell.dev",
	})
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

func runController(args []string, out io.Writer) error {
	fs := newFlagSet("controller", out)
	var mf managerFlags
	mf.bind(fs, ":8080", ":8081")
	leaderElect := fs.Bool("leader-elect", false, "elect one active controller among replicas")
	var cf controllerFlags
	cf.bind(fs, ":8082")
	config.RegisterFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	secret, err := cf.webhookSecret()
	if err != nil {
		return err
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := newManager(cfg, &mf, *leaderElect)
	if err != nil {
		return err
	}
	if err := addControllerAndReceiver(mgr, &cf, secret); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}

func runStreamer(args []string, out io.Writer) error {
	fs := newFlagSet("streamer", out)
	var mf managerFlags
	mf.bind(fs, "0", "0")
	var sf streamerFlags
	sf.bind(fs, streamer.DefaultBindAddress)
	config.RegisterFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := newManager(cfg, &mf, false)
	if err != nil {
		return err
	}
	if err := addStreamer(mgr, cfg, &sf); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
