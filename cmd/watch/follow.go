package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/client"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// Exit codes of the watch command, so scripts can wait on a Cast.
const (
	ExitSucceeded   = 0
	ExitFailed      = 1 // the Cast ended Failed, Cancelled or TimedOut; or an error
	ExitUsage       = 2
	ExitAuth        = 3 // 401/403, or the Cast was deleted before it finished
	ExitInterrupted = 130
)

// DefaultStreamer is where `make run` serves the streamer: the URL when
// neither a flag nor the environment (nor, for kubectl cast, the
// kubeconfig) names one.
const DefaultStreamer = "http://127.0.0.1:8090"

// ExitError carries a command's exit code to main, which finds it through
// its ExitCode method; Msg, when not empty, is printed to stderr.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// ExitCode is what main exits with.
func (e *ExitError) ExitCode() int { return e.Code }

// Config is what a watch needs, resolved from flags, env and kubeconfig by
// `cast-operator watch` or `kubectl cast watch`.
type Config struct {
	// Server is the streamer's base URL.
	Server string
	// HTTPClient, when set, carries the streamer's CA; nil is the client's default.
	HTTPClient *http.Client
	// TokenFunc yields the bearer token before every connection.
	TokenFunc func() (string, error)
	// TokenSource names where the token came from, for messages.
	TokenSource string
	// Scope is what to follow.
	Scope client.Scope
	// JSON prints one event object per line instead of text.
	JSON bool
	// Prog prefixes the reconnect notices, e.g. "kubectl cast watch".
	Prog string
}

// Follow prints events to stdout until the subscription ends. It returns
// nil for exit 0, else an *ExitError with the exit code and, when not
// empty, the message for the user.
func Follow(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	code, err := watch(ctx, cfg, stdout, stderr)
	switch {
	case err != nil:
		return &ExitError{Code: code, Msg: err.Error()}
	case code != 0:
		return &ExitError{Code: code}
	}
	return nil
}

// watch prints events until the subscription ends and returns the exit
// code; err, when not nil, is the message for the user.
func watch(ctx context.Context, cfg Config, stdout, stderr io.Writer) (int, error) {
	c, err := client.New(client.Options{
		Server: cfg.Server, HTTPClient: cfg.HTTPClient, TokenFunc: cfg.TokenFunc,
		OnRetry: func(err error, wait time.Duration) {
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v; reconnecting in %s\n", cfg.Prog, err, wait.Round(100*time.Millisecond))
			}
		},
	})
	if err != nil {
		return ExitUsage, err
	}
	sub, err := c.Subscribe(ctx, cfg.Scope)
	if err != nil {
		return ExitUsage, err
	}
	p := newWatchPrinter(stdout, cfg.JSON, cfg.Scope.Name == "")
	var last client.Event
	for ev := range sub.Events() {
		if err := p.print(ev); err != nil {
			return ExitFailed, fmt.Errorf("writing output: %w", err)
		}
		if ev.Type != wire.KindSynced {
			last = ev
		}
	}
	if err := sub.Err(); err != nil {
		switch {
		case errors.Is(err, client.ErrUnauthorized):
			return ExitAuth, fmt.Errorf("the streamer did not accept the token from %s: %w", cfg.TokenSource, err)
		case errors.Is(err, client.ErrForbidden):
			return ExitAuth, fmt.Errorf("the identity of the token from %s may not watch %s: %w", cfg.TokenSource, scopeText(cfg.Scope), err)
		}
		return ExitFailed, err
	}
	if cfg.Scope.Name == "" {
		return ExitSucceeded, nil // Ctrl-C ends a collection watch
	}
	id := cfg.Scope.Namespace + "/" + cfg.Scope.Name
	switch {
	case last.Type == wire.KindDeleted:
		return ExitAuth, fmt.Errorf("cast %s was deleted before it finished", id)
	case last.Type != wire.KindComplete:
		return ExitInterrupted, nil
	case last.Cast.Status == castv1alpha1.PhaseSucceeded:
		return ExitSucceeded, nil
	}
	fmt.Fprintf(stderr, "cast %s %s: %s\n", id, last.Cast.Status, flattenMessage(last.Cast.Message))
	return ExitFailed, nil
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
