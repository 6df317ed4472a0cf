package streamer

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/internal/httpserve"
	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// Why a stream ended: the audit log's and the metrics' reason label.
const (
	reasonTerminal       = "terminal_state"
	reasonTimeout        = "timeout"
	reasonTokenExpired   = "token_expired"
	reasonDisconnect     = "client_disconnect"
	reasonSlowConsumer   = "slow_consumer"
	reasonForbidden      = "forbidden"
	reasonRateLimited    = "rate_limited"
	reasonShutdown       = "shutdown"
	reasonRebased        = "history_went_back"
	reasonDeleted        = "deleted"
	reasonWriteFailed    = "write_failed"
	streamSlotRetryAfter = 5 * time.Second
)

// streamOne serves one Cast: its state, every change, and after the
// terminal state "complete", then the end.
func (s *Server) streamOne(w http.ResponseWriter, r *http.Request, c call) {
	req := c.req
	// Resuming, a Cast deleted meanwhile still gets its "deleted" event.
	key := types.NamespacedName{Namespace: req.scope.Namespace, Name: req.scope.Name}
	if _, found := s.hub.Get(key); !found && (r.Header.Get("Last-Event-ID") == "" || !s.hub.Known(key)) {
		httpserve.WriteText(w, http.StatusNotFound, "cast "+req.scope.Namespace+"/"+req.scope.Name+" not found")
		return
	}
	s.stream(w, r, c.id, req, true)
}

// streamCollection serves a namespace or all namespaces: every matching
// Cast's state, "synced", then changes, deletions included.
func (s *Server) streamCollection(w http.ResponseWriter, r *http.Request, c call) {
	s.stream(w, r, c.id, c.req, false)
}

// liveStream is an admitted stream: what pump needs, and what must be
// undone when it ends.
type liveStream struct {
	sub    *hub.Subscriber
	init   hub.Initial
	single bool
	// cursor: the stream leaves event types out, so its heartbeats also
	// move the client's resume point past the changes it was not sent.
	cursor  bool
	id      auth.Identity
	sw      *streamWriter
	release func()
	log     logr.Logger
	keys    []any
	start   time.Time

	// Set before waking the subscriber, so the stream's goroutine waits
	// on one channel (sub.Ready) for updates and all of these.
	hungUp  atomic.Bool // the client closed the connection
	expired atomic.Bool // max stream duration or token expiry reached
	beat    atomic.Bool // a heartbeat is due
}

// hangUp records that the client is gone and wakes the stream.
func (ls *liveStream) hangUp() {
	ls.hungUp.Store(true)
	ls.sub.Wake()
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, id auth.Identity, req request, single bool) {
	log := logf.FromContext(r.Context())
	user := id.User.GetName()
	release, ok := s.limiter.AcquireStream(user)
	if !ok {
		s.tooMany(w, r, streamSlotRetryAfter, "too many open streams for "+user)
		return
	}
	sub, init := s.hub.Subscribe(req.filter, r.Header.Get("Last-Event-ID"))

	// HTTP/1.x streams leave net/http once the header is out (see
	// detach); "identity" makes net/http send the header with
	// Connection: close and no chunking, as the SSE spec suggests, so the
	// stream is plain bytes until the connection closes.
	detach := r.ProtoMajor == 1
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
	if detach {
		h.Set("Transfer-Encoding", "identity")
	}
	w.WriteHeader(http.StatusOK)

	openStreams.Inc()
	keys := []any{"user", user, "ip", s.clientIP(r), "userAgent", r.UserAgent(), "scope", scopeString(req.scope)}
	cursor := !req.filter.Kinds.All()
	if cursor {
		keys = append(keys, "events", req.filter.Kinds.String())
	}
	log.Info("stream opened", append(keys, "resumed", init.Resumed)...)
	ls := &liveStream{sub: sub, init: init, single: single, cursor: cursor, id: id, release: release, log: log, keys: keys, start: time.Now(),
		sw: &streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}}
	if detach && s.detach(ls) {
		return
	}
	defer context.AfterFunc(r.Context(), ls.hangUp)()
	s.run(ls)
}

// detach takes an HTTP/1.x stream's connection over from net/http and
// serves the stream from a goroutine of its own, so the handler returns.
// A stream then holds a subscriber, two small goroutines and its socket,
// instead of also net/http's per-connection read and write buffers,
// request and handler goroutine (whose stack the request's path has
// grown): at 10,000 idle clients that difference decides whether they fit.
// It returns false (the caller streams in the handler) when the
// connection cannot be hijacked.
func (s *Server) detach(ls *liveStream) bool {
	// Counted before the hijack, while the handler still holds the
	// connection, so a shutdown in progress waits for this stream too.
	s.detached.Add(1)
	conn, brw, err := ls.sw.rc.Hijack() // writes the header first
	if err != nil {
		s.detached.Done()
		return false
	}
	_ = brw // net/http's buffers for this connection; nothing is read or written through them
	ls.sw.conn, ls.sw.w, ls.sw.rc = conn, nil, nil
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			ls.sw.raw = newRawWriter(raw)
		}
	}
	// No deadline is left from net/http: writeConn's non-waiting writes
	// would fail on an expired one.
	if err := conn.SetWriteDeadline(time.Time{}); err != nil {
		ls.sw.raw = nil
	}
	go watchHangup(conn, ls)
	go func() {
		defer s.detached.Done()
		defer closeGracefully(conn)
		s.run(ls)
	}()
	return true
}

// run streams until the end and records why it ended.
func (s *Server) run(ls *liveStream) {
	defer ls.release()
	defer s.hub.Unsubscribe(ls.sub)
	defer openStreams.Dec()
	reason := s.pump(ls)
	ls.sw.countSent() // events added but never written (a failed encoding) still count, as before
	streamsClosed.WithLabelValues(reason).Inc()
	ls.log.Info("stream closed", append(ls.keys, "reason", reason, "duration", time.Since(ls.start).Round(time.Millisecond).String(), "events", ls.sw.events)...)
}

// watchHangup reads (and drops) whatever the client of a detached stream
// sends, so its closing the connection is noticed at once, as net/http's
// request context would tell a handler. It returns when the connection
// closes, from either end.
func watchHangup(conn net.Conn, ls *liveStream) {
	buf := make([]byte, 64)
	for {
		if _, err := conn.Read(buf); err != nil {
			ls.hangUp()
			return
		}
	}
}

// closeGracefully sends FIN before closing, so the client reads every byte
// (a stream's last event included) and then EOF rather than a reset.
func closeGracefully(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = conn.Close()
}

// pump writes the initial state and then changes until the stream ends,
// and returns why it ended.
func (s *Server) pump(ls *liveStream) string {
	sw, sub, init, single, id := ls.sw, ls.sub, ls.init, ls.single, ls.id
	// The snapshot's states are written once: they must not stay reachable
	// for the stream's lifetime.
	ls.init.Updates = nil
	sw.now = time.Now()
	sw.grab()
	sw.buf = sse.AppendRetry(sw.buf, s.opts.Retry)
	for _, u := range init.Updates {
		if err := sw.add(u, u.Kind); err != nil {
			return reasonWriteFailed
		}
		if single && (u.Kind == wire.KindComplete || u.Kind == wire.KindDeleted) {
			return closeReason(sw.flush(), reasonFor(u.Kind))
		}
		if err := sw.flushIfFull(); err != nil {
			return writeReason(err)
		}
	}
	if !single {
		// resumed tells the client whether Casts it knows but did not get
		// again are unchanged (true) or gone (false, a full snapshot).
		data := []byte(`{"resumed":false}`)
		if init.Resumed {
			data = []byte(`{"resumed":true}`)
		}
		sw.buf, _ = sse.AppendEvent(sw.buf, sse.Event{ID: init.SyncedID, Event: string(wire.KindSynced), Data: data})
		sw.count(wire.KindSynced)
		if rv, err := strconv.ParseInt(init.SyncedID, 10, 64); err == nil {
			sw.topRV = max(sw.topRV, rv)
		}
	}
	if err := sw.flush(); err != nil {
		return writeReason(err)
	}

	lifetime, endReason := s.opts.MaxStreamDuration, reasonTimeout
	if !id.ExpiresAt.IsZero() {
		if left := id.ExpiresAt.Sub(s.opts.Clock.Now()); left < lifetime {
			lifetime, endReason = left, reasonTokenExpired
		}
	}
	end := time.AfterFunc(lifetime, func() { ls.expired.Store(true); sub.Wake() })
	defer end.Stop()
	heartbeat := time.AfterFunc(s.opts.HeartbeatInterval, func() { ls.beat.Store(true); sub.Wake() })
	defer heartbeat.Stop()

	for {
		<-sub.Ready()
		switch {
		case sub.Closed() && sub.Rebased(): // an etcd restore: reconnect for a full snapshot
			return reasonRebased
		case sub.Closed(): // the hub is shutting down
			return reasonShutdown
		case ls.hungUp.Load():
			return reasonDisconnect
		case ls.expired.Load():
			return endReason
		}
		// Asked before the drain: every wanted change at or below it is
		// then in what the drain takes (see hub.Position).
		var position int64
		if ls.cursor && ls.beat.Load() {
			position = s.hub.Position()
		}
		for _, u := range sw.drain(sub) {
			if err := sw.add(u, u.Kind); err != nil {
				return reasonWriteFailed
			}
			if single && (u.Kind == wire.KindComplete || u.Kind == wire.KindDeleted) {
				return closeReason(sw.flush(), reasonFor(u.Kind))
			}
			if err := sw.flushIfFull(); err != nil {
				return writeReason(err)
			}
		}
		if ls.beat.Swap(false) {
			sw.grab()
			if position > sw.topRV {
				// An id alone, no event: the client resumes from here
				// instead of from the last event it was sent, which in a
				// stream of outcomes only may be long ago, past the hub's
				// memory of deletions (a full snapshot instead of a resume).
				sw.buf, _ = sse.AppendID(sw.buf, strconv.FormatInt(position, 10))
				sw.topRV = position
			}
			sw.buf = sse.AppendComment(sw.buf, "heartbeat")
			heartbeat.Reset(s.opts.HeartbeatInterval)
		}
		if len(sw.buf) > 0 {
			if err := sw.flush(); err != nil {
				return writeReason(err)
			}
		}
	}
}

func reasonFor(k wire.Kind) string {
	if k == wire.KindDeleted {
		return reasonDeleted
	}
	return reasonTerminal
}

func closeReason(err error, reason string) string {
	if err != nil {
		return writeReason(err)
	}
	return reason
}

// writeReason tells a stalled reader from a vanished one.
func writeReason(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return reasonSlowConsumer
	}
	return reasonDisconnect
}
