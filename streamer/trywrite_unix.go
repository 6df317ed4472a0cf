//go:build unix

package streamer

import (
	"errors"
	"fmt"
	"io"
	"syscall"
)

// rawWriter writes to a socket without waiting for room. It is made once
// per stream: its callback, bound here, does not escape to the heap on
// every write as a closure over the write's variables would.
type rawWriter struct {
	raw syscall.RawConn
	fn  func(fd uintptr) bool
	b   []byte
	n   int
	err error
}

func newRawWriter(raw syscall.RawConn) *rawWriter {
	rw := &rawWriter{raw: raw}
	rw.fn = rw.write
	return rw
}

func (rw *rawWriter) write(fd uintptr) bool {
	for rw.n < len(rw.b) {
		m, err := syscall.Write(int(fd), rw.b[rw.n:])
		if m > 0 {
			rw.n += m
		}
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return true // full: the caller waits, with a deadline
		case err != nil:
			rw.err = fmt.Errorf("writing to the stream's socket: %w", err)
			return true
		case m == 0:
			rw.err = io.ErrShortWrite
			return true
		}
	}
	return true
}

// tryWrite writes as much of b as the socket takes now, without waiting
// for room: n < len(b) with a nil error means the socket is full.
func (rw *rawWriter) tryWrite(b []byte) (n int, err error) {
	rw.b, rw.n, rw.err = b, 0, nil
	if err := rw.raw.Write(rw.fn); err != nil && rw.err == nil {
		rw.err = fmt.Errorf("writing to the stream's socket: %w", err)
	}
	n, err = rw.n, rw.err
	rw.b, rw.err = nil, nil
	return n, err
}
