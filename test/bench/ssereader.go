package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// eventKind is what the harness cares about in a stream event.
type eventKind int

const (
	eventOther  eventKind = iota
	eventSynced           // "synced"
	eventChange           // "status", "progress" or "complete"
)

// eventReader reads the streamer's SSE frames without allocating per
// event: it looks only at "event:" lines and at the start of "data:" lines,
// where status.message and its stamp are. Thousands of readers share the
// cores with the system under test, so they must be cheap; it relies on
// the LF-terminated frames the streamer writes (the streamer/sse tests
// hold the server to the full spec).
type eventReader struct {
	r *bufio.Reader
	// the event being read
	kind     eventKind
	data     bool
	stamp    stamp
	hasStamp bool
}

func newEventReader(r io.Reader) *eventReader { return &eventReader{r: bufio.NewReaderSize(r, 4096)} }

// next returns the next event's kind and, for changes written by the
// harness, the stamp in its status.message.
func (e *eventReader) next() (kind eventKind, st stamp, stamped bool, err error) {
	for {
		line, err := e.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long data line: the stamp is near its start; skip the rest.
			e.field(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = e.r.ReadSlice('\n')
			}
			if err != nil {
				return 0, stamp{}, false, err
			}
			continue
		}
		if err != nil {
			return 0, stamp{}, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 {
			e.field(line)
			continue
		}
		if !e.data { // a blank line after a comment or retry: nothing to dispatch
			e.kind = eventOther
			continue
		}
		kind, st, stamped = e.kind, e.stamp, e.hasStamp
		*e = eventReader{r: e.r}
		return kind, st, stamped, nil
	}
}

var (
	prefixEvent = []byte("event:")
	prefixData  = []byte("data:")
	stampKey    = []byte(`"message":"t=`)
)

func (e *eventReader) field(line []byte) {
	switch {
	case bytes.HasPrefix(line, prefixEvent):
		switch string(bytes.TrimSpace(line[len(prefixEvent):])) { // no allocation: compared in place
		case "synced":
			e.kind = eventSynced
		case "status", "progress", "complete":
			e.kind = eventChange
		default:
			e.kind = eventOther
		}
	case bytes.HasPrefix(line, prefixData):
		e.data = true
		if !e.hasStamp {
			if i := bytes.Index(line, stampKey); i >= 0 {
				e.stamp, e.hasStamp = stampFields(line[i+len(stampKey):])
			}
		}
	}
}

// stampFields reads "<nanos> p=<phase> n=<seq>" (the rest of a stamp).
// The send time is kept: latency runs from it.
func stampFields(b []byte) (stamp, bool) {
	sent, b, ok1 := number(b)
	b, ok2 := bytes.CutPrefix(b, []byte(" p="))
	phase, b, ok3 := number(b)
	b, ok4 := bytes.CutPrefix(b, []byte(" n="))
	seq, _, ok5 := number(b)
	return stamp{phase: phase, seq: seq, sent: int64(sent)}, ok1 && ok2 && ok3 && ok4 && ok5
}

// number reads a decimal number at the start of b, with an optional minus
// sign (a stamp is the sender's clock; the reader does not judge it).
func number(b []byte) (int, []byte, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	n, i := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if neg {
		n = -n
	}
	return n, b[i:], i > 0
}
