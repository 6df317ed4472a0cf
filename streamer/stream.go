package streamer

import (
	"errors"
	"net/http"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/types"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/sse"
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
	reasonDeleted        = "deleted"
	reasonWriteFailed    = "write_failed"
	streamSlotRetryAfter = 5 * time.Second
)

// streamOne serves one Cast: its state, every change, and after the
// terminal state "complete", then the end.
func (s *Server) streamOne(w http.ResponseWriter, r *http.Request, id auth.Identity) {
	req, ok := s.authorize(w, r, id)
	if !ok {
		return
	}
	// Resuming, a Cast deleted meanwhile still gets its "deleted" event.
	key := types.NamespacedName{Namespace: req.scope.Namespace, Name: req.scope.Name}
	if _, found := s.hub.Get(key); !found && (r.Header.Get("Last-Event-ID") == "" || !s.hub.Known(key)) {
		writeText(w, http.StatusNotFound, "cast "+req.scope.Namespace+"/"+req.scope.Name+" not found")
		return
	}
	s.stream(w, r, id, req, true)
}

// streamCollection serves a namespace or all namespaces: every matching
// Cast's state, "synced", then changes, deletions included.
func (s *Server) streamCollection(w http.ResponseWriter, r *http.Request, id auth.Identity) {
	req, ok := s.authorize(w, r, id)
	if !ok {
		return
	}
	s.stream(w, r, id, req, false)
}

// streamWriter writes SSE frames with a deadline per write, so a client
// that stops reading is found out and dropped instead of holding memory.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
	events  int
}

func (sw *streamWriter) flush() error {
	if err := sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := sw.w.Write(sw.buf)
	if cap(sw.buf) > 4<<10 {
		sw.buf = nil
	} else {
		sw.buf = sw.buf[:0]
	}
	if err == nil {
		err = sw.rc.Flush()
	}
	return err
}

func (sw *streamWriter) add(u *hub.Update, kind hub.Kind) error {
	var err error
	sw.buf, err = sse.AppendEvent(sw.buf, sse.Event{ID: u.ID, Event: string(kind), Data: u.Data})
	if err == nil {
		sw.events++
		eventsSent.WithLabelValues(string(kind)).Inc()
		if !u.At.IsZero() {
			deliveryLag.Observe(time.Since(u.At).Seconds())
		}
	}
	return err
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, id auth.Identity, req request, single bool) {
	log := logf.FromContext(r.Context())
	user := id.User.GetName()
	release, ok := s.limiter.AcquireStream(user)
	if !ok {
		s.tooMany(w, r, streamSlotRetryAfter, "too many open streams for "+user)
		return
	}
	defer release()

	sub, init := s.hub.Subscribe(req.filter, r.Header.Get("Last-Event-ID"))
	defer s.hub.Unsubscribe(sub)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)

	start := time.Now()
	openStreams.Inc()
	defer openStreams.Dec()
	keys := []any{"user", user, "ip", auth.ClientIP(r), "userAgent", r.UserAgent(), "scope", scopeString(req.scope)}
	log.Info("stream opened", append(keys, "resumed", init.Resumed)...)
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}
	reason := s.pump(r, sw, sub, init, single, id)
	streamsClosed.WithLabelValues(reason).Inc()
	log.Info("stream closed", append(keys, "reason", reason, "duration", time.Since(start).Round(time.Millisecond).String(), "events", sw.events)...)
}

// pump writes the initial state and then changes until the stream ends,
// and returns why it ended.
func (s *Server) pump(r *http.Request, sw *streamWriter, sub *hub.Subscriber, init hub.Initial, single bool, id auth.Identity) string {
	sw.buf = sse.AppendRetry(sw.buf, s.opts.Retry)
	for _, u := range init.Updates {
		if err := sw.add(u, u.Kind); err != nil {
			return reasonWriteFailed
		}
		if single && (u.Kind == hub.KindComplete || u.Kind == hub.KindDeleted) {
			return closeReason(sw.flush(), reasonFor(u.Kind))
		}
	}
	if !single {
		// resumed tells the client whether Casts it knows but did not get
		// again are unchanged (true) or gone (false, a full snapshot).
		data := []byte(`{"resumed":false}`)
		if init.Resumed {
			data = []byte(`{"resumed":true}`)
		}
		sw.buf, _ = sse.AppendEvent(sw.buf, sse.Event{ID: init.SyncedID, Event: string(hub.KindSynced), Data: data})
		eventsSent.WithLabelValues(string(hub.KindSynced)).Inc()
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
	end := time.NewTimer(lifetime)
	defer end.Stop()
	heartbeat := time.NewTicker(s.opts.HeartbeatInterval)
	defer heartbeat.Stop()

	for {
		select {
		case <-sub.Ready():
			for _, u := range sub.Drain() {
				if err := sw.add(u, u.Kind); err != nil {
					return reasonWriteFailed
				}
				if single && (u.Kind == hub.KindComplete || u.Kind == hub.KindDeleted) {
					return closeReason(sw.flush(), reasonFor(u.Kind))
				}
			}
			if err := sw.flush(); err != nil {
				return writeReason(err)
			}
		case <-heartbeat.C:
			sw.buf = sse.AppendComment(sw.buf, "heartbeat")
			if err := sw.flush(); err != nil {
				return writeReason(err)
			}
		case <-end.C:
			return endReason
		case <-s.stopping:
			return reasonShutdown
		case <-sub.Done():
			return reasonShutdown
		case <-r.Context().Done():
			return reasonDisconnect
		}
	}
}

func reasonFor(k hub.Kind) string {
	if k == hub.KindDeleted {
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
