// Package streamer is the streamer command: the SSE and JSON server for
// Cast status, in a manager of its own with a trimmed informer cache. (It
// imports the streamer library package of the same name.)
package streamer

import (
	"fmt"
	"io"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/cmd/internal/cli"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/hub"
)

// Run is the streamer command: it serves Cast status changes to HTTP
// clients from its own informer cache until SIGINT or SIGTERM.
func Run(args []string, out io.Writer) error {
	fs := cli.NewFlagSet("streamer", out)
	var mf cli.ManagerFlags
	mf.Bind(fs, ":8443", "0", true)
	var sf Flags
	sf.Bind(fs, streamer.DefaultBindAddress)
	config.RegisterFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := sf.Validate(); err != nil {
		return err
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := cli.NewManager(cfg, &mf, cli.LeaderFlags{}, streamerCache)
	if err != nil {
		return err
	}
	if err := AddStreamer(mgr, cfg, &sf); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}

// streamerCache keeps of each Cast only what the stream hub reads: a
// streamer process has no other reader of its cache (dev, which shares one
// cache with the controller, keeps whole Casts).
func streamerCache(o *ctrl.Options) {
	o.Cache.ByObject = map[client.Object]cache.ByObject{&castv1alpha1.Cast{}: {Transform: hub.Trim}}
}
