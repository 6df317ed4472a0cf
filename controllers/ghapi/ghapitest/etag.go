package ghapitest

import (
	"bytes"
	"net/http"
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
