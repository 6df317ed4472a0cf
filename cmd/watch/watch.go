// Package watch is the user-facing watch command: it follows Cast status
// from the streamer through the Go client and, given a NAME, exits with the
// Cast's outcome so scripts can wait on it.
package watch

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/spell-platform/cast-operator/cmd/internal/cli"
	"github.com/spell-platform/cast-operator/cmd/internal/kubecred"
	"github.com/spell-platform/cast-operator/streamer/client"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

const watchUsage = `Usage: cast-operator watch [-n NAMESPACE] [NAME] [-A] [-l SELECTOR] [--events TYPES] [--server URL] [--token-file F] [-o text|json]

Follow Cast status from the streamer. With NAME, wait for that Cast to finish:
exit 0 if it Succeeded, 1 if it Failed, was Cancelled or TimedOut, 3 if it was
deleted first or the token is refused, 2 on usage errors, 130 on Ctrl-C.
Without NAME, follow the namespace (or all, -A) until Ctrl-C.
--events complete,deleted prints only outcomes and deletions: the streamer
sends nothing else.

Flags:
`

// Run is the watch command: events to stdout, diagnostics to out.
func Run(args []string, out io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runWatchTo(ctx, args, os.Stdout, out)
}

func runWatchTo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseWatchArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return &ExitError{Code: ExitUsage, Msg: err.Error()}
	}
	return Follow(ctx, cfg, stdout, stderr)
}

// parseWatchArgs parses flags around the NAME argument (kubectl users
// type `watch NAME -n ns` as often as `watch -n ns NAME`) and fills in the
// server, token and namespace defaults.
func parseWatchArgs(args []string, stderr io.Writer) (Config, error) {
	fs := cli.NewFlagSet("watch", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), watchUsage)
		fs.PrintDefaults()
	}
	var ns, selector, server, tokenFile, output, events string
	var all bool
	for _, n := range []string{"n", "namespace"} {
		fs.StringVar(&ns, n, "", "namespace (default: the kubeconfig context's, else default)")
	}
	for _, n := range []string{"A", "all-namespaces"} {
		fs.BoolVar(&all, n, false, "follow every namespace")
	}
	for _, n := range []string{"l", "selector"} {
		fs.StringVar(&selector, n, "", "label selector, e.g. team=blue (not with NAME)")
	}
	for _, n := range []string{"o", "output"} {
		fs.StringVar(&output, n, "text", "text (aligned lines) or json (one event object per line)")
	}
	fs.StringVar(&events, "events", "", "event types to print, comma-separated: "+EventTypes+" (default: all)")
	fs.StringVar(&server, "server", "", "streamer base URL (default $CAST_STREAMER, else "+DefaultStreamer+")")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the bearer token, re-read on every reconnect (default: the kubeconfig's token)")

	var names []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return Config{}, err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		names, rest = append(names, rest[0]), rest[1:]
	}
	cfg := Config{JSON: output == "json", Scope: client.Scope{LabelSelector: selector}, Prog: "cast-operator watch"}
	switch {
	case len(names) > 1:
		return cfg, fmt.Errorf("watch takes at most one cast NAME, got %q", names)
	case output != "text" && output != "json":
		return cfg, fmt.Errorf("-o %q: want text or json", output)
	case all && ns != "":
		return cfg, errors.New("-A and -n exclude each other")
	case len(names) == 1 && all:
		return cfg, errors.New("a cast NAME needs a namespace, not -A")
	case len(names) == 1 && selector != "":
		return cfg, errors.New("-l selects casts in a namespace; it does not apply to a NAME")
	}
	if len(names) == 1 {
		cfg.Scope.Name = names[0]
	}
	var err error
	if cfg.Scope.Events, err = ParseEvents(events, len(names) == 1); err != nil {
		return cfg, err
	}

	cfg.Server = server
	if cfg.Server == "" {
		cfg.Server = os.Getenv("CAST_STREAMER")
	}
	if cfg.Server == "" {
		cfg.Server = DefaultStreamer
	}

	kc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{})
	if !all {
		cfg.Scope.Namespace = ns
		if cfg.Scope.Namespace == "" {
			cfg.Scope.Namespace = "default"
			if kns, _, err := kc.Namespace(); err == nil && kns != "" {
				cfg.Scope.Namespace = kns
			}
		}
	}
	return cfg, cfg.resolveToken(tokenFile, kc)
}

// EventTypes names the types --events takes, for flag help.
const EventTypes = "status, progress, complete, deleted"

// ParseEvents reads --events as the streamer reads ?events=. A watch of
// one Cast exits with its outcome, so it must ask for complete.
func ParseEvents(v string, named bool) ([]wire.Kind, error) {
	set, err := wire.ParseKinds(v)
	if err != nil {
		return nil, fmt.Errorf("--events: %w", err)
	}
	if named && !set.Has(wire.KindComplete) {
		return nil, fmt.Errorf("--events %q: a watch of one cast exits with its outcome, so it needs complete", v)
	}
	return set.Kinds(), nil
}

// resolveToken takes --token-file, else the bearer token client-go would
// send for the kubeconfig's user (a static token, a token file, an exec or
// auth-provider plugin's). The streamer authenticates by TokenReview, so a
// client certificate, which proves identity only in the TLS handshake with
// the API server, cannot be used.
func (cfg *Config) resolveToken(tokenFile string, kc clientcmd.ClientConfig) error {
	if tokenFile != "" {
		cfg.TokenSource = "--token-file " + tokenFile
		cfg.TokenFunc = ReadTokenFile(tokenFile)
		_, err := cfg.TokenFunc()
		return err
	}
	raw, err := kc.RawConfig()
	if err != nil {
		return fmt.Errorf("no --token-file, and the kubeconfig cannot be read: %w", err)
	}
	kctx := raw.Contexts[raw.CurrentContext]
	if kctx == nil {
		return errors.New("no --token-file, and no kubeconfig with a current context: pass --token-file with a bearer token")
	}
	cfg.TokenSource = fmt.Sprintf("kubeconfig user %q", kctx.AuthInfo)
	rc, err := kc.ClientConfig()
	if err != nil {
		return fmt.Errorf("no --token-file, and the kubeconfig context %q is not usable: %w", raw.CurrentContext, err)
	}
	cfg.TokenFunc, err = kubecred.TokenFunc(rc)
	return err
}

// ReadTokenFile returns a token source that re-reads path on every call,
// so a rotated token file keeps working.
func ReadTokenFile(path string) func() (string, error) {
	return func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading the token file: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", fmt.Errorf("the token file %s is empty", path)
		}
		return strings.TrimSpace(string(b)), nil
	}
}
