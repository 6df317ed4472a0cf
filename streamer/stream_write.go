package streamer

import "time"

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
