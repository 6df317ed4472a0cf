// Package client follows Cast status from the streamer over Server-Sent
// Events for programs (the watch command, bots, dashboards' backends) that
// want a stream which survives streamer restarts, stream time limits and
// network drops without losing a Cast's final state or replaying old ones.
package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/spell-platform/cast-operator/streamer/wire"
)

// Defaults for Options' zero values: quick to retry after a blip, never
// more than 30 s from noticing that an outage ended, and three missed 15 s
// streamer heartbeats before a connection is presumed dead.
const (
	DefaultInitialBackoff   = time.Second
	DefaultMaxBackoff       = 30 * time.Second
	DefaultHeartbeatTimeout = 45 * time.Second
)

// Errors a Subscription ends with (test with errors.Is). They are
// permanent: retrying with the same token and scope cannot succeed, so the
// client stops instead of hammering the streamer.
var (
	ErrUnauthorized = errors.New("the streamer did not accept the token (invalid, expired or for another audience)")
	ErrForbidden    = errors.New("the token's identity may not read these casts")
	ErrNotFound     = errors.New("cast not found")
	ErrBadRequest   = errors.New("the streamer rejected the request")
)

// StatusError carries the streamer's own explanation of a refusal, which
// names what is missing (e.g. which RBAC verb), alongside the sentinel
// errors.Is matches.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("streamer answered %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("streamer answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Is maps status codes to the sentinels so callers need not know codes.
func (e *StatusError) Is(target error) bool {
	switch e.Code {
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusBadRequest:
		return target == ErrBadRequest
	}
	return false
}

// permanent: a refusal no retry can fix. 408 and 429 are about timing.
func (e *StatusError) permanent() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusRequestTimeout && e.Code != http.StatusTooManyRequests
}

// Options configures a Client. Zero values take the defaults.
type Options struct {
	// Server is the streamer's base URL, e.g. http://127.0.0.1:8090.
	Server string
	// Token is the bearer token sent on every request.
	Token string
	// TokenFunc, when set, is asked for the token before every connection,
	// so a rotating token file (projected ServiceAccount tokens) keeps
	// working past the first token's expiry. An error from it ends the
	// subscription.
	TokenFunc func() (string, error)
	// HTTPClient must not have an overall Timeout: streams are meant to
	// stay open for minutes. The default bounds only dialing, TLS and the
	// wait for response headers.
	HTTPClient *http.Client
	// InitialBackoff and MaxBackoff bound the random wait between
	// reconnection attempts, which doubles per failed attempt.
	InitialBackoff, MaxBackoff time.Duration
	// HeartbeatTimeout is how long a connection may stay silent (no event,
	// no heartbeat comment) before it is presumed dead and replaced; a
	// half-open TCP connection otherwise looks like a quiet stream forever.
	HeartbeatTimeout time.Duration
	// Clock is injectable so tests can check waits without sleeping.
	Clock clock.WithTicker
	// Rand returns values in [0, 1) for backoff jitter; injectable so
	// tests get predictable waits.
	Rand func() float64
	// OnRetry, when set, is told before each wait why the last connection
	// ended (nil when the server ended the stream normally, as it does at
	// its maximum stream duration) and how long the wait is, so a CLI can
	// say it is reconnecting instead of looking hung.
	OnRetry func(err error, wait time.Duration)
}

// Client holds what every subscription to one streamer shares (URL, token
// source, HTTP client), so it is safe to share between goroutines.
type Client struct {
	opts Options
	base *url.URL
}

// New validates opts up front, so a bad URL or a missing token fails when a
// program starts rather than at its first reconnect.
func New(opts Options) (*Client, error) {
	base, err := url.Parse(strings.TrimSuffix(opts.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("streamer URL %q: want http(s)://host[:port]", opts.Server)
	}
	if opts.Token == "" && opts.TokenFunc == nil {
		return nil, errors.New("no token: the streamer serves authenticated callers only")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = defaultHTTPClient()
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = DefaultInitialBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.InitialBackoff)
	if opts.HeartbeatTimeout <= 0 {
		opts.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	return &Client{opts: opts, base: base}, nil
}

func defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: tr}
}

func (c *Client) token() (string, error) {
	if c.opts.TokenFunc == nil {
		return c.opts.Token, nil
	}
	tok, err := c.opts.TokenFunc()
	if err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errors.New("reading the token: it is empty")
	}
	return tok, nil
}

// Scope is what to follow: one Cast (Name set), a namespace, or every
// namespace (Namespace empty), optionally narrowed by a label selector
// and by event type.
type Scope struct {
	Namespace, Name, LabelSelector string
	// Events are the event types to receive (the streamer's ?events=);
	// empty means all. Synced is always delivered. A program that waits
	// only for outcomes asks for complete and deleted, and the streamer
	// then spares it (and its network) every status and progress change.
	// A single Cast's subscription ends after its complete or deleted
	// event, so one that leaves complete out waits for the deletion; one
	// that leaves deleted out ends, with no event, when a reconnect finds
	// the Cast gone.
	Events []wire.Kind
}

func (s Scope) single() bool { return s.Name != "" }

// kinds is the set Events names, checked as the streamer checks it, so a
// typo fails at Subscribe instead of as the streamer's 400 later.
func (s Scope) kinds() (wire.KindSet, error) {
	names := make([]string, len(s.Events))
	for i, k := range s.Events {
		names[i] = string(k)
	}
	return wire.ParseKinds(strings.Join(names, ","))
}

// Event is one Cast state (or deletion) as the streamer describes it;
// Type tells consumers what changed without comparing snapshots.
type Event struct {
	Type wire.Kind
	// ID is the Cast's resourceVersion, or for synced the point the
	// stream is complete up to.
	ID string
	// Cast is the state, reusing the streamer's JSON type so both sides
	// cannot drift; zero for synced. For a deletion it is the last state.
	Cast wire.Snapshot
}

// Subscription separates the events from how the stream ended, so
// consumers just range over Events and ask Err once afterwards.
type Subscription struct {
	events chan Event
	err    error
}

// Events delivers events in order; it closes when the context ends, a
// single Cast's stream finished, or a permanent error happened.
func (s *Subscription) Events() <-chan Event { return s.events }

// Err is meaningful once Events is closed: nil for a normal end (context
// cancelled, or the single Cast's complete or deleted event delivered),
// otherwise why the subscription gave up.
func (s *Subscription) Err() error { return s.err }

// Subscribe starts following scope in the background; errors about the
// streamer (refusals included) come from Err, so callers handle them in
// one place. It fails at once only for a scope no server could serve.
//
// It reconnects by itself (backoff with full jitter, Retry-After honoured,
// resuming with Last-Event-ID) and stops only on 4xx refusals other than
// 408 and 429, since those cannot heal. What consumers may rely on:
//   - each Cast's latest state is delivered at least once;
//   - a Cast's states arrive with increasing resourceVersions: an older
//     or repeated state resent after a reconnect is dropped, except from
//     a full snapshot, which is the streamer's whole state and wins: after
//     an etcd restore the Casts go back to older states, and so do their
//     resourceVersions;
//   - when a reconnect got a full snapshot instead of the changes since
//     Last-Event-ID (a restarted streamer), the Casts it no longer holds
//     are delivered as "deleted" before "synced", so none linger as ghosts.
//     When the batch alone cannot tell, the streamer's list is asked.
//   - for one Cast, Events closes after its "complete" or "deleted" event;
//     on reconnect the Cast's existence is checked first, because a
//     restarted streamer cannot report a deletion it never saw.
//   - with scope.Events, only those types are delivered (and synced).
//     Synthetic deletions follow the same rule: they come only when
//     "deleted" was asked for, and since a filtered snapshot leaves out
//     the Casts whose state is of a type not asked for, a Cast it does not
//     mention is declared deleted only once the streamer's list confirms
//     it. A single Cast found gone whose state was never delivered (its
//     types were left out) is reported with its name alone.
func (c *Client) Subscribe(ctx context.Context, scope Scope) (*Subscription, error) {
	if scope.Name != "" && scope.Namespace == "" {
		return nil, errors.New("a cast name needs its namespace")
	}
	for _, s := range []string{scope.Namespace, scope.Name} {
		if strings.ContainsAny(s, "/?#%\\") || s == "." || s == ".." {
			return nil, fmt.Errorf("%q is not a Kubernetes object name", s)
		}
	}
	kinds, err := scope.kinds()
	if err != nil {
		return nil, err
	}
	s := &Subscription{events: make(chan Event)}
	r := &runner{c: c, scope: scope, sub: s, track: newTracker(kinds)}
	go func() {
		// Written before close: the close publishes it to Err's callers.
		s.err = r.run(ctx)
		close(s.events)
	}()
	return s, nil
}

// run connects and reconnects until the subscription ends.
func (r *runner) run(ctx context.Context) error {
	o := r.c.opts
	attempt := 0
	for {
		res := r.connect(ctx)
		if ctx.Err() != nil || res.finished {
			return nil //nolint:nilerr // the caller's cancel or a finished Cast ends the subscription cleanly
		}
		var se *StatusError
		if res.fatal || (errors.As(res.err, &se) && se.permanent()) {
			return res.err
		}
		// A connection that worked proves the outage is over: start the
		// backoff afresh. One that stayed open a while counts too, so a
		// quiet single-Cast stream ending at the streamer's time limit
		// does not push the next reconnect towards MaxBackoff.
		if res.events > 0 || res.healthy {
			attempt = 0
		}
		wait := max(backoff(attempt, o.InitialBackoff, o.MaxBackoff, o.Rand()), res.retryAfter)
		attempt++
		if o.OnRetry != nil {
			o.OnRetry(res.err, wait)
		}
		t := o.Clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// send hands ev to the consumer; false when the context ended first.
func (r *runner) send(ctx context.Context, ev Event) bool {
	select {
	case r.sub.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
