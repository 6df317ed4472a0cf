package sse

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// expected returns the Message a receiver must see for ev when it is the
// first event on a fresh stream: line breaks normalised to LF, invalid UTF-8
// replaced as the WHATWG decoder does, and the default event type.
func expected(ev Event) Message {
	m := Message{
		ID:    string(appendDecoded(nil, []byte(ev.ID))),
		Event: string(appendDecoded(nil, []byte(ev.Event))),
		Data:  normalizeNewlines(string(appendDecoded(nil, ev.Data))),
	}
	if m.Event == "" {
		m.Event = "message"
	}
	return m
}

func checkRoundTrip(t testing.TB, ev Event) {
	t.Helper()
	frame, err := AppendEvent(nil, ev)
	if err != nil {
		t.Fatalf("AppendEvent(%+q): %v", ev, err)
	}
	for _, rd := range readers {
		p := NewParser(rd.wrap(frame))
		got, err := p.Next()
		if err != nil {
			t.Fatalf("%s: Next on %q: %v", rd.name, frame, err)
		}
		if want := expected(ev); got != want {
			t.Fatalf("%s: round trip of %+q via %q:\n got %+q\nwant %+q", rd.name, ev, frame, got, want)
		}
		if _, err := p.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: trailing Next = %v, want io.EOF", rd.name, err)
		}
		if rd.name == "whole" && utf8.Valid(ev.Data) && !strings.Contains(string(ev.Data), "\r") && got.Data != string(ev.Data) {
			t.Fatalf("valid LF-only data not preserved byte for byte: %q", ev.Data)
		}
	}
}

var roundTripStrings = []string{
	"", " ", "  ", "x", " x", "  x", "x ", ":", ": ", " :", "::", "a:b", "data: x", "id: 1",
	"\n", "\r", "\r\n", "\n\r", "\r\r", "\n\n", "\r\n\r\n", "a\nb", "a\rb", "a\r\nb",
	"a\n", "\na", "a\r", "\ra", " a\n b\r  c\r\n   d", "\x00", "a\x00b", "\uFEFF", "\uFEFFx",
	"h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e", "\U0001F600\U0001F680", "\u2028\u2029\u0085",
	"\xff", "a\xffb", "\xE2\x82", "\xED\xA0\x80", "\xF0\x9F\x98\r\n",
	`{"kind":"Cast","status":{"phase":"Running"}}`, strings.Repeat("long line ", 1000),
}

// randomString builds strings from pieces that stress framing: line breaks
// of every kind, leading spaces, colons, field-like prefixes, NUL, BOM,
// multi-byte runes and invalid UTF-8.
func randomString(r *rand.Rand) string {
	pieces := []string{"\r", "\n", "\r\n", " ", ":", "data:", "id:", "event:", "retry:", "\x00",
		"\uFEFF", "\xff", "\xE2\x82", "x", "ab"}
	var b strings.Builder
	for n := r.IntN(12); n > 0; n-- {
		if r.IntN(3) == 0 {
			b.WriteRune(rune(r.IntN(0x10FFFF + 1)))
		} else {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
	}
	return b.String()
}

func sanitizeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, s)
}

func TestRoundTripStrings(t *testing.T) {
	for _, s := range roundTripStrings {
		checkRoundTrip(t, Event{Data: []byte(s)})
		checkRoundTrip(t, Event{ID: sanitizeID(s), Event: sanitizeID(s), Data: []byte(s)})
	}
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(20240601, 7))
	for i := 0; i < 5000; i++ {
		checkRoundTrip(t, Event{
			ID:    sanitizeID(randomString(r)),
			Event: sanitizeID(randomString(r)),
			Data:  []byte(randomString(r)),
		})
	}
}

// TestRoundTripStream sends many events, comments and retry blocks on one
// stream and checks what persists across events: an omitted ID keeps the
// previous one, while the event type does not carry over.
func TestRoundTripStream(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var stream bytes.Buffer
	var want []Message
	var comments []string
	lastID := ""
	for i := 0; i < 500; i++ {
		ev := Event{Data: []byte(randomString(r))}
		if r.IntN(2) == 0 {
			ev.ID = sanitizeID(randomString(r))
		}
		if r.IntN(2) == 0 {
			ev.Event = sanitizeID(randomString(r))
		}
		if r.IntN(4) == 0 {
			c := randomString(r)
			stream.Write(AppendComment(nil, c))
			comments = append(comments, strings.Split(normalizeNewlines(string(appendDecoded(nil, []byte(c)))), "\n")...)
		}
		frame, err := AppendEvent(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		stream.Write(frame)
		m := expected(ev)
		if ev.ID != "" {
			lastID = m.ID
		}
		m.ID = lastID
		want = append(want, m)
	}
	stream.Write(AppendRetry(nil, 2500*time.Nanosecond))
	for _, rd := range readers {
		p := NewParser(rd.wrap(stream.Bytes()))
		got, err := collect(t, p, len(want))
		if !errors.Is(err, io.EOF) {
			t.Fatalf("%s: %v", rd.name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d events, want %d", rd.name, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: event %d = %+q, want %+q", rd.name, i, got[i], want[i])
			}
		}
		if !equalStrings(p.Comments(), comments) {
			t.Fatalf("%s: comments differ:\n got %q\nwant %q", rd.name, p.Comments(), comments)
		}
		if p.LastEventID() != lastID || p.Retry() != time.Millisecond {
			t.Fatalf("%s: LastEventID=%q Retry=%v", rd.name, p.LastEventID(), p.Retry())
		}
	}
}
