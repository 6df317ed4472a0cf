package kubetest

import (
	"bytes"
	"sync"
)

// Buffer collects what a logger, a command or a response body writes from
// its own goroutine while the test reads it: proving a token never shows
// in the logs, or waiting for a line of output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
