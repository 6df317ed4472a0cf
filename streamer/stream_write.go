package streamer

import (
	"time"

	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

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
