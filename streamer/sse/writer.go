package sse

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Errors returned by AppendEvent. They exist so that a caller never puts a
// frame on the wire that a parser would split differently than intended: a
// line break inside the id or event field would start a new field, and an id
// containing NUL is silently ignored by EventSource (so Last-Event-ID
// resumption would quietly break).
var (
	ErrInvalidID    = errors.New("sse: event ID must not contain CR, LF or NUL")
	ErrInvalidEvent = errors.New("sse: event type must not contain CR or LF")
)

// Event is one SSE event as the streamer sends it.
//
// Data may hold anything: it is split on CRLF, CR and LF into one "data:"
// line each, so after parsing every line break reads back as a single LF and
// all other bytes are preserved. Event streams are UTF-8 by definition, so
// invalid UTF-8 is passed through unchanged and a receiver replaces it with
// U+FFFD (as this package's Parser does); framing is never affected by it.
//
// Empty Data still produces a single "data:" line: a blank line only
// dispatches an event when the receiver's data buffer is non-empty, and one
// empty data line makes that buffer "\n", which dispatches with Data "".
// An empty ID is omitted rather than written as "id:", because "id:" resets
// the receiver's last event ID, which would break resumption.
type Event struct {
	ID    string        // "id:" line; omitted when empty; no CR, LF or NUL
	Event string        // "event:" line; omitted when empty; no CR or LF
	Data  []byte        // one "data:" line per line of Data
	Retry time.Duration // "retry:" line (milliseconds, rounded up) when > 0
}

// AppendEvent appends the wire form of ev, terminated by the blank line that
// makes the receiver dispatch it. It appends to dst so one encoded frame can
// be written to many clients, and so the same buffer can be reused for the
// next event without allocating. On error dst is returned unchanged: a
// partially written frame would corrupt the following ones.
func AppendEvent(dst []byte, ev Event) ([]byte, error) {
	if strings.ContainsAny(ev.ID, "\r\n\x00") {
		return dst, ErrInvalidID
	}
	if strings.ContainsAny(ev.Event, "\r\n") {
		return dst, ErrInvalidEvent
	}
	if ev.Retry > 0 {
		dst = appendRetryLine(dst, ev.Retry)
	}
	if ev.ID != "" {
		dst = appendField(dst, "id", ev.ID)
	}
	if ev.Event != "" {
		dst = appendField(dst, "event", ev.Event)
	}
	dst = appendLines(dst, "data", ev.Data)
	return append(dst, '\n'), nil
}

// AppendComment appends a comment block. Comments are invisible to
// EventSource listeners, which is what makes them suitable as heartbeats:
// they keep proxies and load balancers from timing out an idle connection
// without waking up any client code. Line breaks in text start additional
// comment lines so text can never inject fields. The block ends with a blank
// line; that is harmless because every frame this package writes is
// complete, so no partially received event can be dispatched early by it.
func AppendComment(dst []byte, text string) []byte {
	dst = appendLines(dst, "", text)
	return append(dst, '\n')
}

// AppendID appends a block that only moves the receiver's last event ID
// to id, dispatching no event (its data is empty): a stream that leaves
// events out tells its client where to resume from without sending them.
// An empty id is refused, as "id:" would reset the ID.
func AppendID(dst []byte, id string) ([]byte, error) {
	if id == "" || strings.ContainsAny(id, "\r\n\x00") {
		return dst, ErrInvalidID
	}
	dst = appendField(dst, "id", id)
	return append(dst, '\n'), nil
}

// AppendRetry appends a block that only changes the client's reconnection
// delay, so the server can slow reconnect storms (for example before a
// planned shutdown) without sending an event. d is rounded up to whole
// milliseconds so a small positive delay never becomes "reconnect
// immediately"; d <= 0 writes "retry: 0".
func AppendRetry(dst []byte, d time.Duration) []byte {
	dst = appendRetryLine(dst, d)
	return append(dst, '\n')
}

func appendRetryLine(dst []byte, d time.Duration) []byte {
	var ms int64
	if d > 0 {
		ms = int64(d / time.Millisecond)
		if d%time.Millisecond != 0 {
			ms++
		}
	}
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, '\n')
}

// appendField writes "name: value\n". The space after the colon is always
// written because the parser strips exactly one leading space: a value that
// itself starts with a space keeps it. An empty value is written as "name:"
// to avoid trailing whitespace on the wire.
func appendField[T ~string | ~[]byte](dst []byte, name string, value T) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	if len(value) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, value...)
	}
	return append(dst, '\n')
}

// appendLines writes one field line per line of s, treating CRLF, CR and LF
// as line breaks exactly like the parser does. s always yields at least one
// line, so empty input still produces one (empty) field line.
func appendLines[T ~string | ~[]byte](dst []byte, name string, s T) []byte {
	for {
		i := indexLineBreak(s)
		if i < 0 {
			return appendField(dst, name, s)
		}
		dst = appendField(dst, name, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
}

func indexLineBreak[T ~string | ~[]byte](s T) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}
