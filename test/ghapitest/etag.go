package ghapitest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// recorder buffers an endpoint's answer so the middleware can decide, after
// seeing the body, whether to send it or a 304, and with which headers.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{h: http.Header{}} }

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b) // a bytes.Buffer never fails
}

// flush sends the buffered answer with its headers merged over w's.
func (r *recorder) flush(w http.ResponseWriter) int {
	for k, v := range r.h {
		w.Header()[k] = v
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(r.body.Bytes())
	return status
}

// etagOf is GitHub's style of entity tag: weak, quoted, a digest of the
// body, so any change to the resource's JSON gives a new tag.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `W/"` + hex.EncodeToString(sum[:]) + `"`
}

// matchesIfNoneMatch applies If-None-Match's weak comparison: any of the
// comma-separated tags (in any of the header's lines), or "*", matches.
func matchesIfNoneMatch(values []string, etag string) bool {
	opaque := strings.TrimPrefix(etag, "W/")
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == opaque {
				return true
			}
		}
	}
	return false
}

// flushNotModified sends a 304 carrying the validators and rate headers but
// no body or entity headers, as GitHub does.
func (r *recorder) flushNotModified(w http.ResponseWriter) int {
	for k, v := range r.h {
		if k != "Content-Type" && k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(http.StatusNotModified)
	return http.StatusNotModified
}
