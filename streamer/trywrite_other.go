//go:build !unix

package streamer

import "syscall"

// rawWriter writes nothing where raw writes are not supported: every
// write then waits, with a deadline (see writeConn).
type rawWriter struct{}

func newRawWriter(syscall.RawConn) *rawWriter { return &rawWriter{} }

func (*rawWriter) tryWrite([]byte) (int, error) { return 0, nil }
