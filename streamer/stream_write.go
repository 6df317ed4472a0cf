package streamer

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// streamWriter writes SSE frames with a deadline per write, so a client
// that stops reading is found out and dropped instead of holding memory.
// Frames are built in a pooled buffer that is returned after each write:
// an idle stream holds no buffer at all.
type streamWriter struct {
	// conn is the detached connection of an HTTP/1.x stream; nil when the
	// stream is written through the handler's ResponseWriter (HTTP/2).
	conn net.Conn
	// raw writes to conn's socket without waiting (see writeConn); nil
	// when conn has no file descriptor to write to.
	raw     *rawWriter
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
	pooled  *[]byte
	events  int
	// unsent counts, per sentKinds, events added but not yet added to
	// eventsSent; countSent moves them there once per write.
	unsent [len(sentKinds)]int
	// now is when the stream last woke up: the delivery lag of what it
	// writes then, with one clock read per wake-up instead of per event.
	now time.Time
	// drained is reused by every wake-up to take the subscriber's updates.
	drained []*hub.Update
	// topRV is the highest event id written, the client's resume point.
	topRV int64
}

// maxKeptDrain bounds the drain slice a stream keeps between wake-ups;
// a larger one (a burst) goes back to the GC.
const maxKeptDrain = 256

// flushAt is how much a stream buffers before writing, so a large
// snapshot (or a backlog of large events) goes out in pieces: a stream
// never needs a buffer the size of everything it sends at once, and many
// clients connecting together do not make the streamer allocate, and
// collect, a full snapshot each.
const flushAt = 32 << 10

// maxPooledFrame keeps one huge event from pinning its buffer in the pool.
const maxPooledFrame = 64 << 10

var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// grab makes sw.buf a pooled buffer to append to.
func (sw *streamWriter) grab() {
	if sw.pooled == nil {
		sw.pooled = frameBufs.Get().(*[]byte)
		sw.buf = (*sw.pooled)[:0]
	}
}

func (sw *streamWriter) release() {
	if sw.pooled != nil && cap(sw.buf) <= maxPooledFrame {
		*sw.pooled = sw.buf[:0]
		frameBufs.Put(sw.pooled)
	}
	sw.buf, sw.pooled = nil, nil
}

func (sw *streamWriter) flush() error {
	defer sw.release()
	sw.countSent()
	if sw.conn != nil {
		return sw.writeConn()
	}
	if err := sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := sw.w.Write(sw.buf)
	if err == nil {
		err = sw.rc.Flush()
	}
	return err
}

// flushIfFull writes what is buffered once it reaches flushAt.
func (sw *streamWriter) flushIfFull() error {
	if len(sw.buf) < flushAt {
		return nil
	}
	return sw.flush()
}

func (sw *streamWriter) add(u *hub.Update, kind wire.Kind) error {
	sw.grab()
	var err error
	if f := u.Frame(); f != nil && kind == u.Kind {
		sw.buf = append(sw.buf, f...) // encoded once by the hub for every stream
	} else {
		sw.buf, err = u.AppendEvent(sw.buf, kind)
	}
	if err == nil {
		sw.events++
		sw.topRV = max(sw.topRV, u.RV())
		sw.count(kind)
		if !u.At.IsZero() {
			deliveryLag.Observe(sw.now.Sub(u.At).Seconds())
		}
	}
	return err
}

// writeConn writes the buffer to a detached stream's connection. Most
// writes fit in the socket's send buffer: they are made without waiting,
// and so without a deadline, whose setting (a timer in the runtime's
// heap, per write) was a measurable share of a delivery's cost. Only when
// the socket is full, because the client is behind, does the rest wait,
// for at most the write timeout, as every write did before: a client that
// reads nothing for that long is still dropped as a slow consumer.
func (sw *streamWriter) writeConn() error {
	buf := sw.buf
	if sw.raw != nil {
		n, err := sw.raw.tryWrite(buf)
		if err != nil {
			return err
		}
		buf = buf[n:]
		if len(buf) == 0 {
			return nil
		}
	}
	if err := sw.conn.SetWriteDeadline(time.Now().Add(sw.timeout)); err != nil {
		return err
	}
	if _, err := sw.conn.Write(buf); err != nil {
		return err
	}
	// The next non-waiting write would fail once this deadline expired.
	return sw.conn.SetWriteDeadline(time.Time{})
}

// count records one event of kind for eventsSent.
func (sw *streamWriter) count(kind wire.Kind) {
	if i := sentSlot(kind); i >= 0 {
		sw.unsent[i]++
		return
	}
	eventsSent.WithLabelValues(string(kind)).Inc()
}

// countSent adds the events counted since the last call to eventsSent.
func (sw *streamWriter) countSent() {
	for i, n := range sw.unsent {
		if n > 0 {
			sentSeries[i].Add(float64(n))
			sw.unsent[i] = 0
		}
	}
}

// drain takes sub's pending updates into the stream's reused slice, and
// reads the clock for their delivery lag.
func (sw *streamWriter) drain(sub *hub.Subscriber) []*hub.Update {
	if cap(sw.drained) > maxKeptDrain {
		sw.drained = nil
	}
	clear(sw.drained[:cap(sw.drained)]) // the last wake-up's updates: do not pin them
	sw.drained = sub.DrainTo(sw.drained[:0])
	sw.now = time.Now()
	return sw.drained
}
