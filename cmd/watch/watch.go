// Package watch is the user-facing watch command: it follows Cast status
// from the streamer through the Go client and, given a NAME, exits with the
// Cast's outcome so scripts can wait on it.
package watch

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/cmd/internal/cli"
	"github.com/spell-platform/cast-operator/streamer/client"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// Exit codes of the watch command, so scripts can wait on a Cast.
const (
	watchExitSucceeded   = 0
	watchExitFailed      = 1 // the Cast ended Failed, Cancelled or TimedOut; or an error
	watchExitUsage       = 2
	watchExitAuth        = 3 // 401/403, or the Cast was deleted before it finished
	watchExitInterrupted = 130
)

// defaultStreamer is where `make run` serves the streamer.
const defaultStreamer = "http://127.0.0.1:8090"

// exitError carries a command's exit code to main, which finds it through
// its ExitCode method; msg, when not empty, is printed to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// ExitCode is what main exits with.
func (e *exitError) ExitCode() int { return e.code }

const watchUsage = `Usage: cast-operator watch [-n NAMESPACE] [NAME] [-A] [-l SELECTOR] [--server URL] [--token-file F] [-o text|json]

Follow Cast status from the streamer. With NAME, wait for that Cast to finish:
exit 0 if it Succeeded, 1 if it Failed, was Cancelled or TimedOut, 3 if it was
deleted first or the token is refused, 2 on usage errors, 130 on Ctrl-C.
Without NAME, follow the namespace (or all, -A) until Ctrl-C.

Flags:
`

// watchConfig is what watch needs, resolved from flags, env and kubeconfig.
type watchConfig struct {
	server      string
	token       string
	tokenFunc   func() (string, error)
	tokenSource string // for messages: where the token came from
	scope       client.Scope
	json        bool
}

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
		return &exitError{code: watchExitUsage, msg: err.Error()}
	}
	code, err := watch(ctx, cfg, stdout, stderr)
	switch {
	case err != nil:
		return &exitError{code: code, msg: err.Error()}
	case code != 0:
		return &exitError{code: code}
	}
	return nil
}

// parseWatchArgs parses flags around the NAME argument (kubectl users
// type `watch NAME -n ns` as often as `watch -n ns NAME`) and fills in the
// server, token and namespace defaults.
func parseWatchArgs(args []string, stderr io.Writer) (watchConfig, error) {
	fs := cli.NewFlagSet("watch", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), watchUsage)
		fs.PrintDefaults()
	}
	var ns, selector, server, tokenFile, output string
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
	fs.StringVar(&server, "server", "", "streamer base URL (default $CAST_STREAMER, else "+defaultStreamer+")")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the bearer token, re-read on every reconnect (default: the kubeconfig's token)")

	var names []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return watchConfig{}, err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		names, rest = append(names, rest[0]), rest[1:]
	}
	cfg := watchConfig{json: output == "json", scope: client.Scope{LabelSelector: selector}}
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
		cfg.scope.Name = names[0]
	}

	cfg.server = server
	if cfg.server == "" {
		cfg.server = os.Getenv("CAST_STREAMER")
	}
	if cfg.server == "" {
		cfg.server = defaultStreamer
	}

	kc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{})
	if !all {
		cfg.scope.Namespace = ns
		if cfg.scope.Namespace == "" {
			cfg.scope.Namespace = "default"
			if kns, _, err := kc.Namespace(); err == nil && kns != "" {
				cfg.scope.Namespace = kns
			}
		}
	}
	return cfg, cfg.resolveToken(tokenFile, kc)
}

// resolveToken takes --token-file, else the kubeconfig's bearer token. The
// streamer authenticates by TokenReview, so client certificates and exec
// plugins, which prove identity only to the API server, cannot be used.
func (cfg *watchConfig) resolveToken(tokenFile string, kc clientcmd.ClientConfig) error {
	if tokenFile != "" {
		cfg.tokenSource = "--token-file " + tokenFile
		cfg.tokenFunc = readTokenFile(tokenFile)
		_, err := cfg.tokenFunc()
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
	user := raw.AuthInfos[kctx.AuthInfo]
	cfg.tokenSource = fmt.Sprintf("kubeconfig user %q", kctx.AuthInfo)
	switch {
	case user != nil && user.Token != "":
		cfg.token = user.Token
		return nil
	case user != nil && user.TokenFile != "":
		cfg.tokenSource += " (token file " + user.TokenFile + ")"
		cfg.tokenFunc = readTokenFile(user.TokenFile)
		_, err := cfg.tokenFunc()
		return err
	}
	how := "no bearer token"
	if user != nil && (len(user.ClientCertificateData) > 0 || user.ClientCertificate != "") {
		how = "client certificates"
	} else if user != nil && (user.Exec != nil || user.AuthProvider != nil) {
		how = "an exec or auth-provider plugin"
	}
	return fmt.Errorf("the kubeconfig context %q authenticates with %s, which the streamer cannot check; "+
		"pass --token-file with a ServiceAccount token (e.g. from `kubectl create token NAME`)", raw.CurrentContext, how)
}

func readTokenFile(path string) func() (string, error) {
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

// watch prints events until the subscription ends and returns the exit
// code; err, when not nil, is the message for the user.
func watch(ctx context.Context, cfg watchConfig, stdout, stderr io.Writer) (int, error) {
	c, err := client.New(client.Options{
		Server: cfg.server, Token: cfg.token, TokenFunc: cfg.tokenFunc,
		OnRetry: func(err error, wait time.Duration) {
			if err != nil {
				fmt.Fprintf(stderr, "cast-operator watch: %v; reconnecting in %s\n", err, wait.Round(100*time.Millisecond))
			}
		},
	})
	if err != nil {
		return watchExitUsage, err
	}
	sub, err := c.Subscribe(ctx, cfg.scope)
	if err != nil {
		return watchExitUsage, err
	}
	p := newWatchPrinter(stdout, cfg.json, cfg.scope.Name == "")
	var last client.Event
	for ev := range sub.Events() {
		if err := p.print(ev); err != nil {
			return watchExitFailed, fmt.Errorf("writing output: %w", err)
		}
		if ev.Type != wire.KindSynced {
			last = ev
		}
	}
	if err := sub.Err(); err != nil {
		switch {
		case errors.Is(err, client.ErrUnauthorized):
			return watchExitAuth, fmt.Errorf("the streamer did not accept the token from %s: %w", cfg.tokenSource, err)
		case errors.Is(err, client.ErrForbidden):
			return watchExitAuth, fmt.Errorf("the identity of the token from %s may not watch %s: %w", cfg.tokenSource, scopeText(cfg.scope), err)
		}
		return watchExitFailed, err
	}
	if cfg.scope.Name == "" {
		return watchExitSucceeded, nil // Ctrl-C ends a collection watch
	}
	id := cfg.scope.Namespace + "/" + cfg.scope.Name
	switch {
	case last.Type == wire.KindDeleted:
		return watchExitAuth, fmt.Errorf("cast %s was deleted before it finished", id)
	case last.Type != wire.KindComplete:
		return watchExitInterrupted, nil
	case last.Cast.Status == castv1alpha1.PhaseSucceeded:
		return watchExitSucceeded, nil
	}
	fmt.Fprintf(stderr, "cast %s %s: %s\n", id, last.Cast.Status, flattenMessage(last.Cast.Message))
	return watchExitFailed, nil
}

func scopeText(sc client.Scope) string {
	switch {
	case sc.Name != "":
		return "cast " + sc.Namespace + "/" + sc.Name
	case sc.Namespace != "":
		return "casts in namespace " + sc.Namespace
	}
	return "casts in all namespaces"
}

// watchPrinter writes events as aligned text lines or JSON lines.
type watchPrinter struct {
	w    io.Writer
	json bool
	// initial holds a collection's first snapshot until synced, so its
	// lines can be aligned on the widest name; later names rarely exceed
	// minNameWidth, so the columns seldom shift after that.
	initial   []client.Event
	buffering bool
	nameWidth int
}

const minNameWidth = 24

func newWatchPrinter(w io.Writer, json, collection bool) *watchPrinter {
	return &watchPrinter{w: w, json: json, buffering: collection && !json, nameWidth: minNameWidth}
}

// watchJSONEvent is the snapshot with its event type, flat, as jq users expect.
type watchJSONEvent struct {
	Event wire.Kind `json:"event"`
	wire.Snapshot
}

func (p *watchPrinter) print(ev client.Event) error {
	if p.json {
		var b []byte
		var err error
		if ev.Type == wire.KindSynced {
			b, err = json.Marshal(struct {
				Event wire.Kind `json:"event"`
			}{ev.Type})
		} else {
			b, err = json.Marshal(watchJSONEvent{Event: ev.Type, Snapshot: ev.Cast})
		}
		if err == nil {
			_, err = fmt.Fprintf(p.w, "%s\n", b)
		}
		return err
	}
	if p.buffering && ev.Type != wire.KindSynced {
		p.initial = append(p.initial, ev)
		return nil
	}
	if ev.Type == wire.KindSynced {
		// Text is for people: the marker itself is not printed.
		initial := p.initial
		p.initial, p.buffering = nil, false
		for _, e := range initial {
			p.nameWidth = max(p.nameWidth, len(e.Cast.Namespace)+1+len(e.Cast.Name))
		}
		for _, e := range initial {
			if err := p.line(e); err != nil {
				return err
			}
		}
		return nil
	}
	return p.line(ev)
}

func (p *watchPrinter) line(ev client.Event) error {
	name := ev.Cast.Namespace + "/" + ev.Cast.Name
	p.nameWidth = max(p.nameWidth, len(name))
	phase := string(ev.Cast.Status)
	if ev.Type == wire.KindDeleted {
		phase = "Deleted"
	}
	line := fmt.Sprintf("%s  %-*s  %-9s  %3d%%  %s", time.Now().Format("15:04:05"), p.nameWidth, name, phase,
		ev.Cast.Progress, flattenMessage(ev.Cast.Message))
	_, err := fmt.Fprintln(p.w, strings.TrimRight(line, " "))
	return err
}

// flattenMessage keeps a multi-line message from breaking the one-event-per-line
// output.
func flattenMessage(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
