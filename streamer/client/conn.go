package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// errHeartbeat: the connection went silent for longer than the streamer's
// heartbeats allow; it is presumed dead (half-open TCP, stuck proxy).
var errHeartbeat = errors.New("no data, not even a heartbeat, within the heartbeat timeout")

// runner is one subscription's reconnect loop and delivery state.
type runner struct {
	c      *Client
	scope  Scope
	sub    *Subscription
	track  *tracker
	lastID string // what the server last sent as id; sent back on reconnect
}

// result is how one connection ended.
type result struct {
	events     int  // SSE events the server sent on it
	healthy    bool // it stayed open long enough to count as working
	finished   bool // the single Cast's stream is over: stop
	fatal      bool // retrying cannot help (besides permanent StatusErrors)
	err        error
	retryAfter time.Duration
}

// connect runs one connection until it ends, delivering its events.
func (r *runner) connect(ctx context.Context) result {
	tok, err := r.c.token()
	if err != nil {
		return result{fatal: true, err: err}
	}
	if r.scope.single() && r.lastID != "" {
		if res, done := r.checkGone(ctx, tok); done {
			return res
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := r.do(cctx, r.path("/events"), tok, true)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r.refusal(resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return result{fatal: true, err: fmt.Errorf("%s answered with %q, not an event stream: is it the streamer?",
			r.c.base.Redacted(), resp.Header.Get("Content-Type"))}
	}

	o := r.c.opts
	started := o.Clock.Now()
	wd := &watchdog{body: resp.Body, clk: o.Clock, timeout: o.HeartbeatTimeout, cancel: cancel}
	p := sse.NewParser(wd)
	r.track.begin(r.lastID, !r.scope.single())
	var res result
	for {
		m, err := p.Next()
		if id := p.LastEventID(); id != "" {
			r.lastID = id
		}
		if err != nil {
			res.healthy = o.Clock.Since(started) >= o.MaxBackoff
			switch {
			case wd.expired.Load():
				res.err = errHeartbeat
			case errors.Is(err, io.EOF) && res.events == 0:
				res.err = errors.New("the streamer closed the stream before sending anything")
			case errors.Is(err, io.EOF):
				res.err = nil // ended by the server: time limit, token expiry, shutdown
			default:
				res.err = fmt.Errorf("reading the stream: %w", err)
			}
			return res
		}
		res.events++
		if res.finished = r.handle(ctx, tok, m); res.finished || ctx.Err() != nil {
			return res
		}
	}
}

// handle delivers one SSE event; true when it finished a single Cast.
func (r *runner) handle(ctx context.Context, tok string, m sse.Message) bool {
	kind := wire.Kind(m.Event)
	switch kind {
	case wire.KindSynced:
		ghosts := r.track.ghostCandidates()
		if len(ghosts) > 0 && r.track.needsCheck() {
			ghosts = r.absent(ctx, tok, ghosts)
		}
		for _, ev := range r.track.synced(m.ID, ghosts, fullSnapshot(m.Data)) {
			if !r.send(ctx, ev) {
				return false
			}
		}
		r.send(ctx, Event{Type: wire.KindSynced, ID: m.ID})
		return false
	case wire.KindStatus, wire.KindProgress, wire.KindComplete, wire.KindDeleted:
		if !r.track.kinds.Has(kind) {
			return false // not asked for: a streamer that ignored ?events=
		}
	default:
		return false // a newer server's event type: not ours to guess at
	}
	ev := Event{Type: kind, ID: m.ID}
	if err := json.Unmarshal([]byte(m.Data), &ev.Cast); err != nil {
		return false // not a Cast: skipping it beats ending the subscription
	}
	if ev.ID == "" {
		ev.ID = ev.Cast.ResourceVersion
	}
	if !r.track.offer(ev) {
		return false
	}
	return r.send(ctx, ev) && r.scope.single() && terminalKind(kind)
}

// fullSnapshot reads synced's data: `"resumed": false` says the batch
// was a full snapshot. Older streamers send no data; the batch then
// proves it or not (tracker).
func fullSnapshot(data string) bool {
	var d struct {
		Resumed *bool `json:"resumed"`
	}
	return json.Unmarshal([]byte(data), &d) == nil && d.Resumed != nil && !*d.Resumed
}

// checkGone asks, before resuming a single Cast, whether it still exists:
// a streamer that restarted meanwhile cannot know of a deletion it never
// saw, and would otherwise keep the stream open on a Cast that is gone.
func (r *runner) checkGone(ctx context.Context, tok string) (result, bool) {
	resp, err := r.do(ctx, r.path(""), tok, false)
	if err != nil {
		return result{err: err}, true
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch resp.StatusCode {
	case http.StatusOK:
		return result{}, false
	case http.StatusNotFound:
		ev, ok := r.track.gone(r.scope.Namespace, r.scope.Name, r.lastID)
		if ok && !r.send(ctx, ev) {
			return result{}, true
		}
		return result{finished: true}, true
	}
	return r.refusal(resp), true
}

// absent returns which of keys the streamer's list no longer holds; none
// when the list cannot be had, since a Cast must not be declared deleted
// on a guess.
func (r *runner) absent(ctx context.Context, tok string, keys []string) []string {
	resp, err := r.do(ctx, r.path(""), tok, false)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var list struct {
		Items []wire.Snapshot `json:"items"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&list) != nil {
		return nil
	}
	present := map[string]bool{}
	for _, s := range list.Items {
		present[keyOf(s)] = true
	}
	var out []string
	for _, k := range keys {
		if !present[k] {
			out = append(out, k)
		}
	}
	return out
}

// path is the scope's resource path plus suffix ("/events" for streams).
func (r *runner) path(suffix string) string {
	p := "/api/v1/casts"
	if r.scope.Namespace != "" {
		p = "/api/v1/namespaces/" + r.scope.Namespace + "/casts"
		if r.scope.Name != "" {
			p += "/" + r.scope.Name
		}
	}
	return p + suffix
}

func (r *runner) do(ctx context.Context, path, tok string, stream bool) (*http.Response, error) {
	u := *r.c.base
	u.RawPath = ""
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	q := url.Values{}
	if r.scope.LabelSelector != "" && r.scope.Name == "" {
		q.Set("labelSelector", r.scope.LabelSelector)
	}
	if stream && !r.track.kinds.All() {
		q.Set(wire.EventsParam, r.track.kinds.String())
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "cast-operator-client")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		if r.lastID != "" {
			req.Header.Set("Last-Event-ID", r.lastID)
		}
	} else {
		req.Header.Set("Accept", "application/json")
	}
	return r.c.opts.HTTPClient.Do(req)
}

// refusal turns a non-200 answer into a result, keeping the server's
// explanation and any Retry-After.
func (r *runner) refusal(resp *http.Response) result {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	res := result{err: &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(body))}}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.retryAfter = retryAfter(resp.Header, r.c.opts.Clock.Now())
	}
	return res
}

// watchdog fails a read that waits longer than timeout for bytes. It is
// armed only while a Read is waiting, so a consumer that is slow to take
// events is not mistaken for a silent server.
type watchdog struct {
	body    io.Reader
	clk     clock.Clock
	timeout time.Duration
	cancel  context.CancelFunc
	expired atomic.Bool
}

func (w *watchdog) Read(p []byte) (int, error) {
	t := w.clk.NewTimer(w.timeout)
	stop := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			w.expired.Store(true)
			w.cancel()
		case <-stop:
		}
	}()
	n, err := w.body.Read(p)
	close(stop)
	t.Stop()
	if err != nil && w.expired.Load() {
		err = errHeartbeat
	}
	return n, err
}
