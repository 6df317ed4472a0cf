package castcli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spell-platform/cast-operator/cmd/watch"
	"github.com/spell-platform/cast-operator/streamer/client"
)

// watchFlags are watch's own flags, for reaching the streamer.
type watchFlags struct {
	server, tokenFile, caFile, output, events string
}

// newWatch is `cast-operator watch` on kubectl's flags: the same output and
// exit codes, the same library (cmd/watch.Follow).
func (o *options) newWatch() *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch [NAME]",
		Short: "Follow Casts from the streamer; with NAME, wait for it to finish",
		Long: `Follow Cast status from the streamer. With NAME, wait for that Cast to finish:
exit 0 if it Succeeded, 1 if it Failed, was Cancelled or TimedOut, 3 if it was
deleted first or the token is refused, 2 on usage errors, 130 on Ctrl-C.
Without NAME, follow the namespace (or all, -A) until Ctrl-C.`,
		Args:              maxArgs(1),
		ValidArgsFunction: o.completeCasts,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := o.watchConfig(f, args)
			if err != nil {
				return err
			}
			return watch.Follow(cmd.Context(), cfg, o.streams.Out, o.streams.ErrOut)
		},
	}
	o.addListFlags(cmd)
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "text (aligned lines) or json (one event object per line)")
	cmd.Flags().StringVar(&f.events, "events", "", "event types to print, comma-separated: "+watch.EventTypes+" (default: all)")
	cmd.Flags().StringVar(&f.server, "server", "", "streamer base URL (default $CAST_STREAMER, else the kubeconfig cluster's "+
		StreamerExtension+" extension, else "+watch.DefaultStreamer+")")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token, re-read on every reconnect (default: the kubeconfig user's)")
	cmd.Flags().StringVar(&f.caFile, "streamer-ca-file", "", "PEM CA bundle for an https streamer (default: the kubeconfig extension's, else the system's)")
	return cmd
}

// watchConfig resolves the scope, the streamer and the token.
func (o *options) watchConfig(f watchFlags, args []string) (watch.Config, error) {
	cfg := watch.Config{JSON: f.output == "json", Prog: "kubectl cast watch", Scope: client.Scope{LabelSelector: o.selector}}
	switch {
	case f.output != "text" && f.output != "json":
		return cfg, usageError(fmt.Errorf("-o %q: want text or json", f.output))
	case len(args) == 1 && o.allNamespaces:
		return cfg, usageError(errors.New("a cast NAME needs a namespace, not -A"))
	case len(args) == 1 && o.selector != "":
		return cfg, usageError(errors.New("-l selects casts in a namespace; it does not apply to a NAME"))
	}
	if len(args) == 1 {
		cfg.Scope.Name = args[0]
	}
	events, err := watch.ParseEvents(f.events, len(args) == 1)
	if err != nil {
		return cfg, usageError(err)
	}
	cfg.Scope.Events = events
	if !o.allNamespaces {
		ns, err := o.namespace()
		if err != nil {
			return cfg, usageError(err)
		}
		cfg.Scope.Namespace = ns
	}
	s, err := o.streamer(f)
	if err != nil {
		return cfg, usageError(err)
	}
	cfg.Server, cfg.HTTPClient, cfg.TokenFunc, cfg.TokenSource = s.server, s.httpClient, s.tokenFunc, s.tokenSource
	return cfg, nil
}
