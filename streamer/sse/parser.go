package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxSize bounds both a single line and the data of a single event. It
// exists because the parser reads untrusted streams: without a bound a
// server that never sends a line break (or never a blank line) would grow
// memory without limit. It is far above what the streamer sends.
const MaxSize = 16 << 20

// ErrTooLarge is returned instead of silently truncating, because a
// truncated event would make a test assert against data the server never
// sent. After it, the Parser keeps returning it: the stream is out of sync.
var ErrTooLarge = errors.New("sse: line or event data exceeds MaxSize")

// Message is one dispatched event as a browser's EventSource would see it.
type Message struct {
	ID    string // last event ID at dispatch time; persists across events
	Event string // "message" when no event field was given
	Data  string // data lines joined with LF
}

// Parser interprets an event stream with the WHATWG rules, so that callers
// see exactly the events, IDs and reconnection time a browser would.
//
// Next must be called from one goroutine at a time. Retry, LastEventID,
// Comments and OnComment may be called from any goroutine at any time, so a
// test can watch heartbeats while another goroutine blocks in Next.
type Parser struct {
	r   *bufio.Reader
	max int

	line     []byte // current line, accumulated across reads
	lineDone bool   // line holds a complete line that was already returned
	skipLF   bool   // last line ended with CR: a following LF belongs to it
	bomDone  bool
	dec      []byte // scratch for lines that need U+FFFD replacement
	err      error  // sticky error (ErrTooLarge)

	data      []byte // data buffer
	eventType string // event type buffer
	idBuf     string // last event ID buffer

	mu        sync.Mutex
	lastID    string // last event ID string (set on every blank line)
	retry     time.Duration
	comments  []string
	onComment func(string)
}

// NewParser wraps r. r is read only as far as needed for each call to Next,
// so a Parser on a live HTTP body returns events as soon as they arrive.
func NewParser(r io.Reader) *Parser {
	return &Parser{r: bufio.NewReader(r), max: MaxSize}
}

// Next returns the next dispatched event. It blocks until one is complete,
// calling the OnComment hook for comments read on the way.
//
// At the end of the stream it returns io.EOF; an event (or line) not yet
// terminated by a blank line is discarded, as the spec requires. Other read
// errors are returned as is and keep any partial line, so if the reader can
// continue (for example after a read deadline) calling Next again resumes
// exactly where parsing stopped.
func (p *Parser) Next() (Message, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return Message{}, err
		}
		if len(line) == 0 {
			if m, ok := p.dispatch(); ok {
				return m, nil
			}
			continue
		}
		if err := p.processLine(line); err != nil {
			return Message{}, err
		}
	}
}

// Retry exists so clients and tests can honour or assert the server's
// reconnection delay; it is the value of the last valid "retry:" field, or
// 0 if there was none.
func (p *Parser) Retry() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retry
}

// LastEventID returns what a reconnecting EventSource would send as the
// Last-Event-ID header. Per spec this is the last event ID buffer as of the
// most recent blank line: an "id:" field in a block that the stream never
// terminated does not count, because the server never completed that block.
func (p *Parser) LastEventID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastID
}

// Comments returns the text of every comment line seen so far (without the
// leading ':' and one optional space), so tests can assert heartbeats even
// though comments are never dispatched as events. The result is a copy.
// The list grows for the life of the Parser; long-lived clients that only
// need to observe comments should use OnComment instead.
func (p *Parser) Comments() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.comments)
}

// OnComment registers fn to be called with each comment's text as it is
// read, so a test can observe heartbeats in real time on an open stream
// while no event arrives. fn runs on the goroutine calling Next, so it must
// not call Next; nil removes the hook.
func (p *Parser) OnComment(fn func(text string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onComment = fn
}

// dispatch implements "dispatch the event" for a blank line.
func (p *Parser) dispatch() (Message, bool) {
	p.mu.Lock()
	p.lastID = p.idBuf
	p.mu.Unlock()
	if len(p.data) == 0 {
		p.eventType = ""
		return Message{}, false
	}
	m := Message{ID: p.idBuf, Event: p.eventType, Data: string(p.data[:len(p.data)-1])}
	if m.Event == "" {
		m.Event = "message"
	}
	p.data = p.data[:0]
	p.eventType = ""
	return m, true
}

func (p *Parser) processLine(line []byte) error {
	if !utf8.Valid(line) {
		p.dec = appendDecoded(p.dec[:0], line)
		line = p.dec
	}
	if line[0] == ':' {
		text := line[1:]
		if len(text) > 0 && text[0] == ' ' {
			text = text[1:]
		}
		s := string(text)
		p.mu.Lock()
		p.comments = append(p.comments, s)
		fn := p.onComment
		p.mu.Unlock()
		if fn != nil {
			fn(s)
		}
		return nil
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "event":
		p.eventType = string(value)
	case "data":
		if len(p.data)+len(value)+1 > p.max {
			p.err = ErrTooLarge
			return p.err
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.idBuf = string(value)
		}
	case "retry":
		if d, ok := parseRetry(value); ok {
			p.mu.Lock()
			p.retry = d
			p.mu.Unlock()
		}
	}
	return nil
}

// parseRetry accepts only ASCII digits, as the spec requires; values too
// large for a time.Duration saturate instead of wrapping around.
func parseRetry(v []byte) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms <= maxMS {
			ms = ms*10 + int64(c-'0')
		}
	}
	if ms > maxMS {
		return math.MaxInt64, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// skipBOM drops one UTF-8 byte order mark at the start of the stream. It
// peeks byte by byte so that a stream whose first line is shorter than a
// BOM is not held back waiting for more input.
func (p *Parser) skipBOM() error {
	for n := 1; n <= len(bom); n++ {
		b, err := p.r.Peek(n)
		if !bytes.HasPrefix(bom, b) {
			p.bomDone = true
			return nil
		}
		if err != nil {
			return err
		}
	}
	_, _ = p.r.Discard(len(bom))
	p.bomDone = true
	return nil
}

// readLine returns the next line without its terminator (CRLF, LF or CR).
// A line ending in CR is returned immediately, without waiting to see
// whether LF follows; the LF, if it arrives later, is then skipped.
func (p *Parser) readLine() ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	if !p.bomDone {
		if err := p.skipBOM(); err != nil {
			return nil, err
		}
	}
	if p.lineDone {
		p.line = p.line[:0]
		p.lineDone = false
	}
	for {
		if p.r.Buffered() == 0 {
			if _, err := p.r.Peek(1); err != nil {
				return nil, err
			}
		}
		buf, _ := p.r.Peek(p.r.Buffered())
		if p.skipLF {
			p.skipLF = false
			if buf[0] == '\n' {
				_, _ = p.r.Discard(1)
				continue
			}
		}
		i := indexLineBreak(buf)
		end := i
		if i < 0 {
			end = len(buf)
		}
		if len(p.line)+end > p.max {
			p.err = ErrTooLarge
			return nil, p.err
		}
		p.line = append(p.line, buf[:end]...)
		if i < 0 {
			_, _ = p.r.Discard(end)
			continue
		}
		p.skipLF = buf[i] == '\r'
		_, _ = p.r.Discard(i + 1)
		p.lineDone = true
		return p.line, nil
	}
}
