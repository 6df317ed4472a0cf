// Package httpserve is what the operator's HTTP servers (the webhook
// receiver and the streamer) share: one set of named timeouts, so a slow
// or idle client cannot hold a connection, and one way to answer in plain
// text that says what is wrong.
package httpserve

import (
	"fmt"
	"net/http"
	"time"
)

// Timeouts bound what one client may hold. Zero means no limit, which only
// a streaming server may choose for Write.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
}

// Short suits servers whose every exchange is short (GitHub posts one
// payload and waits at most 10 s for the answer): all four apply; Read and
// Write leave room for a 25 MiB body on a slow link.
var Short = Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 30 * time.Second,
	Idle: 120 * time.Second, MaxHeaderBytes: 64 << 10}

// Streaming suits a server of long-lived responses (SSE): requests are
// bounded like Short's, responses by the server's own write deadlines.
var Streaming = Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second,
	Idle: 120 * time.Second, MaxHeaderBytes: 64 << 10}

// Server returns an http.Server for h with these timeouts.
func (t Timeouts) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    t.MaxHeaderBytes,
	}
}

// WriteText answers with code and a one-line plain-text message; nosniff
// keeps browsers from reading it as anything else.
func WriteText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}
