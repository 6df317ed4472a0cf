package sse

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func FuzzRoundTrip(f *testing.F) {
	for i, s := range roundTripStrings {
		f.Add(s, sanitizeID(roundTripStrings[(i+1)%len(roundTripStrings)]), sanitizeID(roundTripStrings[(i+2)%len(roundTripStrings)]))
	}
	f.Add("x", "bad\nid", "")
	f.Add("x", "bad\x00id", "")
	f.Add("x", "", "bad\revent")
	f.Fuzz(func(t *testing.T, data, id, event string) {
		ev := Event{ID: id, Event: event, Data: []byte(data)}
		invalid := strings.ContainsAny(id, "\r\n\x00") || strings.ContainsAny(event, "\r\n")
		if _, err := AppendEvent(nil, ev); (err != nil) != invalid {
			t.Fatalf("AppendEvent(%+q) error = %v, want error: %v", ev, err, invalid)
		}
		if invalid {
			return // input filtering: such events are rejected by design
		}
		checkRoundTrip(t, ev)
	})
}

// parseAll returns everything observable about a stream.
func parseAll(t *testing.T, r io.Reader, limit int) ([]Message, []string, string, int64) {
	p := NewParser(r)
	msgs, err := collect(t, p, limit)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("final error = %v, want io.EOF", err)
	}
	return msgs, p.Comments(), p.LastEventID(), int64(p.Retry())
}

func FuzzParser(f *testing.F) {
	for _, s := range []string{
		"data: YHOO\ndata: +2\ndata: 10\n\n",
		": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
		"data\n\ndata\ndata\n\ndata:",
		"data:test\n\ndata: test\n\n",
		"event: add\ndata: 1\r\n\r\nevent: remove\rdata: 2\r\r",
		"\xEF\xBB\xBFid: 1\x00\nid: 2\nretry: 100\nretry: x\ndata: \xff\xE2\x82\n\n",
		"\r\n\r\r\n\n:\n: hb\n",
		"data: a\r",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs, comments, lastID, retry := parseAll(t, bytes.NewReader(in), len(in))
		for _, m := range msgs {
			if !utf8.ValidString(m.Data) || !utf8.ValidString(m.ID) || !utf8.ValidString(m.Event) {
				t.Fatalf("invalid UTF-8 in %+q", m)
			}
			if strings.ContainsAny(m.ID, "\r\n\x00") || strings.ContainsAny(m.Event, "\r\n") || m.Event == "" {
				t.Fatalf("impossible message %+q", m)
			}
			// Re-encoding a parsed message must reproduce it exactly.
			frame, err := AppendEvent(nil, Event{ID: m.ID, Event: m.Event, Data: []byte(m.Data)})
			if err != nil {
				t.Fatalf("re-encode %+q: %v", m, err)
			}
			if m2, err := NewParser(bytes.NewReader(frame)).Next(); err != nil || m2 != m {
				t.Fatalf("re-encode of %+q parsed as %+q, %v", m, m2, err)
			}
		}
		// How the bytes are chunked must not matter.
		for _, r := range []io.Reader{
			iotest.OneByteReader(bytes.NewReader(in)),
			&crSplitReader{in},
		} {
			m2, c2, id2, r2 := parseAll(t, r, len(in))
			if !slices.Equal(m2, msgs) || !slices.Equal(c2, comments) || id2 != lastID || r2 != retry {
				t.Fatalf("chunking changed the result for %q", in)
			}
		}
	})
}
