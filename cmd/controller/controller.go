// Package controller is the controller command: the Cast reconciler and
// the GitHub webhook receiver feeding it, in one manager with optional
// leader election among replicas.
package controller

import (
	"fmt"
	"io"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/spell-platform/cast-operator/cmd/internal/cli"
)

// Run is the controller command: it reconciles Casts in the cluster of
// the in-cluster config or --kubeconfig until SIGINT or SIGTERM.
func Run(args []string, out io.Writer) error {
	applyDefaultGCPercent()
	fs := cli.NewFlagSet("controller", out)
	var mf cli.ManagerFlags
	mf.Bind(fs, ":8443", ":8081", true)
	var lf cli.LeaderFlags
	lf.Bind(fs)
	var cf Flags
	cf.Bind(fs, ":8082")
	config.RegisterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := lf.Validate(); err != nil {
		return err
	}
	if err := cf.Validate(); err != nil {
		return err
	}
	secret, err := cf.WebhookSecret()
	if err != nil {
		return err
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := cli.NewManager(cfg, &mf, lf, cf.Cache)
	if err != nil {
		return err
	}
	if err := AddControllerAndReceiver(mgr, &cf, secret); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
