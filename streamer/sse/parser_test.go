package sse

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// crSplitReader returns at most one CR-terminated chunk per Read, so every
// CRLF in the input is split across two reads.
type crSplitReader struct{ b []byte }

func (r *crSplitReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if i := bytes.IndexByte(r.b, '\r'); i >= 0 {
		n = i + 1
	}
	n = copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

var readers = []struct {
	name string
	wrap func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"onebyte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	{"dataerr", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
	{"crsplit", func(b []byte) io.Reader { return &crSplitReader{b} }},
}

func normalizeNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

// collect reads until Next fails, bounding the number of events so a parser
// that stops consuming input fails the test instead of hanging it.
func collect(t testing.TB, p *Parser, limit int) ([]Message, error) {
	t.Helper()
	var msgs []Message
	for {
		m, err := p.Next()
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
		if len(msgs) > limit {
			t.Fatalf("more than %d events: parser is not making progress", limit)
		}
	}
}

func msg(id, event, data string) Message { return Message{ID: id, Event: event, Data: data} }

func TestParserSpec(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []Message
		lastID   string
		retry    time.Duration
		comments []string
	}{
		{name: "stock ticker", in: "data: YHOO\ndata: +2\ndata: 10\n\n",
			want: []Message{msg("", "message", "YHOO\n+2\n10")}},
		{name: "stock ticker CRLF", in: "data: YHOO\r\ndata: +2\r\ndata: 10\r\n\r\n",
			want: []Message{msg("", "message", "YHOO\n+2\n10")}},
		{name: "stock ticker CR", in: "data: YHOO\rdata: +2\rdata: 10\r\r",
			want: []Message{msg("", "message", "YHOO\n+2\n10")}},
		{name: "test stream", in: ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
			want:     []Message{msg("1", "message", "first event"), msg("", "message", "second event"), msg("", "message", " third event")},
			comments: []string{"test stream"}},
		{name: "end of stream does not dispatch", in: "data: first event\nid: 1\n\ndata:  third event\n",
			want: []Message{msg("1", "message", "first event")}, lastID: "1"},
		{name: "data without colon", in: "data\n\ndata\ndata\n\ndata:",
			want: []Message{msg("", "message", ""), msg("", "message", "\n")}},
		{name: "space after colon is optional", in: "data:test\n\ndata: test\n\n",
			want: []Message{msg("", "message", "test"), msg("", "message", "test")}},
		{name: "event types", in: "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
			want: []Message{msg("", "add", "73857293"), msg("", "remove", "2153"), msg("", "add", "113411")}},
		{name: "CRLF is one line break", in: "data: a\r\ndata: b\r\n\r\n",
			want: []Message{msg("", "message", "a\nb")}},
		{name: "LF CR is two line breaks", in: "data: a\n\rdata: b\n\n",
			want: []Message{msg("", "message", "a"), msg("", "message", "b")}},
		{name: "mixed endings", in: "data: a\r\ndata: b\rdata: c\n\r\n",
			want: []Message{msg("", "message", "a\nb\nc")}},
		{name: "unknown and case-sensitive fields ignored", in: "foo: bar\nDATA: y\ndata : z\ndata: x\n\n",
			want: []Message{msg("", "message", "x")}},
		{name: "only unknown fields", in: "foo: bar\n\n"},
		{name: "event without colon is empty", in: "event\ndata: x\n\n",
			want: []Message{msg("", "message", "x")}},
		{name: "event type resets after dispatch", in: "event: a\ndata: 1\n\ndata: 2\n\n",
			want: []Message{msg("", "a", "1"), msg("", "message", "2")}},
		{name: "event type resets without data", in: "event: a\n\ndata: 2\n\n",
			want: []Message{msg("", "message", "2")}},
		{name: "last event field wins", in: "event: a\nevent: b\ndata: 1\n\n",
			want: []Message{msg("", "b", "1")}},
		{name: "only one space stripped", in: "data:  x\ndata:\ty\n\n",
			want: []Message{msg("", "message", " x\n\ty")}},
		{name: "colons in value", in: "data: a:b\ndata::\n\n",
			want: []Message{msg("", "message", "a:b\n:")}},
		{name: "empty data lines", in: "data:\ndata:\n\n",
			want: []Message{msg("", "message", "\n")}},
		{name: "NUL in data", in: "data: a\x00b\n\n",
			want: []Message{msg("", "message", "a\x00b")}},
		{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			want: []Message{msg("1", "message", "a"), msg("1", "message", "b")}, lastID: "1"},
		{name: "id persists and resets", in: "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 8\ndata: d\n\nid:\ndata: e\n\n",
			want: []Message{msg("7", "message", "a"), msg("7", "message", "b"), msg("", "message", "c"),
				msg("8", "message", "d"), msg("", "message", "e")}},
		{name: "id set by block without data", in: "id: 9\n\ndata: x\n\n",
			want: []Message{msg("9", "message", "x")}, lastID: "9"},
		{name: "id in unterminated block not committed", in: "id: 1\ndata: a\n\nid: 2\ndata: b\n",
			want: []Message{msg("1", "message", "a")}, lastID: "1"},
		{name: "id applies to the block it ends", in: "data: a\nid: 3\n\n",
			want: []Message{msg("3", "message", "a")}, lastID: "3"},
		{name: "comments", in: ":\n: \n:  x\n:no space\n: a: b\n\n",
			comments: []string{"", "", " x", "no space", "a: b"}},
		{name: "comment between data lines", in: "data: a\n: hb\ndata: b\n\n",
			want: []Message{msg("", "message", "a\nb")}, comments: []string{"hb"}},
		{name: "BOM skipped", in: "\xEF\xBB\xBFdata: x\n\n", want: []Message{msg("", "message", "x")}},
		{name: "only one BOM skipped", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n",
			want: []Message{msg("", "message", "y")}},
		{name: "BOM later is data", in: "data: \xEF\xBB\xBFx\n\n", want: []Message{msg("", "message", "\uFEFFx")}},
		{name: "partial BOM", in: "\xEF\xBBdata: x\n\n"},
		{name: "BOM only", in: "\xEF\xBB\xBF"},
		{name: "invalid UTF-8 replaced", in: "data: a\xffb\xE2\x82\n\n",
			want: []Message{msg("", "message", "a\uFFFDb\uFFFD")}},
		{name: "invalid UTF-8 in field name", in: "dat\xe1: x\ndata: y\n\n",
			want: []Message{msg("", "message", "y")}},
		{name: "retry", in: "retry: 1500\n\n", retry: 1500 * time.Millisecond},
		{name: "retry zero", in: "retry: 1000\nretry: 0\n\n", retry: 0},
		{name: "retry invalid values ignored", in: "retry: 100\nretry: 15a\nretry: -1\nretry:  200\nretry:\nretry\nretry: 1.5\nretry: ٣\n\n",
			retry: 100 * time.Millisecond},
		{name: "retry without space", in: "retry:250\ndata: x\n\n", retry: 250 * time.Millisecond,
			want: []Message{msg("", "message", "x")}},
		{name: "retry saturates", in: "retry: 99999999999999999999999999\n\n", retry: time.Duration(1<<63 - 1)},
		{name: "retry applies without blank line", in: "retry: 42\n", retry: 42 * time.Millisecond},
		{name: "unterminated line ignored", in: "retry: 42"},
		{name: "empty stream", in: ""},
		{name: "only blank lines", in: "\n\r\n\r\n\n"},
		{name: "extra blank lines", in: "data: x\n\n\n\ndata: y\r\r\r",
			want: []Message{msg("", "message", "x"), msg("", "message", "y")}},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				p := NewParser(rd.wrap([]byte(tt.in)))
				got, err := collect(t, p, len(tt.in))
				if !errors.Is(err, io.EOF) {
					t.Fatalf("final error = %v, want io.EOF", err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("events:\n got %q\nwant %q", got, tt.want)
				}
				if p.LastEventID() != tt.lastID {
					t.Errorf("LastEventID = %q, want %q", p.LastEventID(), tt.lastID)
				}
				if p.Retry() != tt.retry {
					t.Errorf("Retry = %v, want %v", p.Retry(), tt.retry)
				}
				if c := p.Comments(); !slices.Equal(c, tt.comments) {
					t.Errorf("Comments = %q, want %q", c, tt.comments)
				}
				if _, err := p.Next(); !errors.Is(err, io.EOF) {
					t.Errorf("Next after EOF = %v, want io.EOF", err)
				}
			})
		}
	}
}

func TestDecodeUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain ascii", "plain ascii"},
		{"h\u00e9llo \U0001F600 \uFFFD", "h\u00e9llo \U0001F600 \uFFFD"},
		// Unicode Standard, Table 3-8: one U+FFFD per maximal subpart.
		{"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd"},
		{"\xC0\xAF", "\uFFFD\uFFFD"},                     // overlong lead bytes are never valid
		{"\xE0\x80\xAF", "\uFFFD\uFFFD\uFFFD"},           // overlong 3-byte form
		{"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"},           // surrogate
		{"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, // above U+10FFFF
		{"\xF0\x9F\x98", "\uFFFD"},                       // truncated at end
		{"\xF0\x9F\x98x", "\uFFFDx"},
		{"\xE2\x82\n", "\uFFFD\n"},
		{"\xF5\xFF", "\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		if got := string(appendDecoded(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("decode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
