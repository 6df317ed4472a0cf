package sse

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"data only", Event{Data: []byte("hello")}, "data: hello\n\n"},
		{"all fields", Event{ID: "42", Event: "update", Data: []byte(`{"a":1}`), Retry: 3 * time.Second},
			"retry: 3000\nid: 42\nevent: update\ndata: {\"a\":1}\n\n"},
		{"id only", Event{ID: "7", Data: []byte("x")}, "id: 7\ndata: x\n\n"},
		{"event only", Event{Event: "ping", Data: []byte("x")}, "event: ping\ndata: x\n\n"},
		{"nil data", Event{}, "data:\n\n"},
		{"empty data", Event{Data: []byte{}}, "data:\n\n"},
		{"LF", Event{Data: []byte("a\nb")}, "data: a\ndata: b\n\n"},
		{"CRLF", Event{Data: []byte("a\r\nb")}, "data: a\ndata: b\n\n"},
		{"CR", Event{Data: []byte("a\rb")}, "data: a\ndata: b\n\n"},
		{"LF CR is two breaks", Event{Data: []byte("a\n\rb")}, "data: a\ndata:\ndata: b\n\n"},
		{"CR CR LF", Event{Data: []byte("a\r\r\nb")}, "data: a\ndata:\ndata: b\n\n"},
		{"trailing LF", Event{Data: []byte("a\n")}, "data: a\ndata:\n\n"},
		{"leading LF", Event{Data: []byte("\na")}, "data:\ndata: a\n\n"},
		{"only CRLF", Event{Data: []byte("\r\n")}, "data:\ndata:\n\n"},
		{"leading space kept", Event{Data: []byte(" x")}, "data:  x\n\n"},
		{"leading spaces on each line", Event{Data: []byte(" a\n  b")}, "data:  a\ndata:   b\n\n"},
		{"colons", Event{Data: []byte(":a: b:")}, "data: :a: b:\n\n"},
		{"NUL in data", Event{Data: []byte("a\x00b")}, "data: a\x00b\n\n"},
		{"id with leading space", Event{ID: " 1", Data: []byte("x")}, "id:  1\ndata: x\n\n"},
		{"event with colon and NUL", Event{Event: "a:b\x00", Data: []byte("x")}, "event: a:b\x00\ndata: x\n\n"},
		{"retry rounds up", Event{Retry: 1500 * time.Microsecond, Data: []byte("x")}, "retry: 2\ndata: x\n\n"},
		{"retry 1ns", Event{Retry: 1, Data: []byte("x")}, "retry: 1\ndata: x\n\n"},
		{"retry zero omitted", Event{Retry: 0, Data: []byte("x")}, "data: x\n\n"},
		{"retry negative omitted", Event{Retry: -time.Second, Data: []byte("x")}, "data: x\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendEvent([]byte("prefix|"), tt.ev)
			if err != nil {
				t.Fatalf("AppendEvent: %v", err)
			}
			if want := "prefix|" + tt.want; string(got) != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestAppendEventInvalid(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want error
	}{
		{"id LF", Event{ID: "a\nb"}, ErrInvalidID},
		{"id CR", Event{ID: "a\r"}, ErrInvalidID},
		{"id NUL", Event{ID: "\x00"}, ErrInvalidID},
		{"event LF", Event{Event: "a\n"}, ErrInvalidEvent},
		{"event CR", Event{Event: "\ra"}, ErrInvalidEvent},
		{"event CRLF with valid id", Event{ID: "1", Event: "a\r\nb"}, ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendEvent(dst, tt.ev)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if string(got) != "keep" {
				t.Fatalf("dst modified on error: %q", got)
			}
		})
	}
}

func TestAppendComment(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"heartbeat", ": heartbeat\n\n"},
		{"", ":\n\n"},
		{" x", ":  x\n\n"},
		{"a\nb", ": a\n: b\n\n"},
		{"a\r\n\r\nb", ": a\n:\n: b\n\n"},
		{"a\rdata: injected", ": a\n: data: injected\n\n"},
	}
	for _, tt := range tests {
		if got := AppendComment(nil, tt.text); string(got) != tt.want {
			t.Errorf("AppendComment(%q) = %q, want %q", tt.text, got, tt.want)
		}
		p := NewParser(bytes.NewReader(AppendComment(nil, tt.text)))
		if m, err := p.Next(); err == nil {
			t.Errorf("comment %q dispatched an event: %+v", tt.text, m)
		}
		want := strings.Split(normalizeNewlines(tt.text), "\n")
		if got := p.Comments(); !equalStrings(got, want) {
			t.Errorf("comment %q parsed as %q, want %q", tt.text, got, want)
		}
	}
}

func TestAppendRetry(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Second, "retry: 5000\n\n"},
		{time.Millisecond, "retry: 1\n\n"},
		{time.Nanosecond, "retry: 1\n\n"},
		{1001 * time.Microsecond, "retry: 2\n\n"},
		{0, "retry: 0\n\n"},
		{-time.Hour, "retry: 0\n\n"},
		{time.Duration(1<<63 - 1), "retry: 9223372036855\n\n"},
	}
	for _, tt := range tests {
		got := AppendRetry(nil, tt.d)
		if string(got) != tt.want {
			t.Errorf("AppendRetry(%v) = %q, want %q", tt.d, got, tt.want)
		}
		p := NewParser(bytes.NewReader(got))
		if _, err := p.Next(); err == nil {
			t.Errorf("retry block dispatched an event")
		}
		if tt.d > 0 && tt.d%time.Millisecond == 0 && p.Retry() != tt.d {
			t.Errorf("retry %v parsed as %v", tt.d, p.Retry())
		}
	}
}

// An id block dispatches nothing, yet a receiver resumes from it: the
// next event's ID and LastEventID are the new one.
func TestAppendID(t *testing.T) {
	got, err := AppendID(nil, "42")
	if err != nil || string(got) != "id: 42\n\n" {
		t.Fatalf("AppendID(42) = %q, %v", got, err)
	}
	stream, _ := AppendEvent(nil, Event{ID: "7", Event: "status", Data: []byte("a")})
	stream = append(stream, got...)
	stream, _ = AppendEvent(stream, Event{Event: "status", Data: []byte("b")})
	p := NewParser(bytes.NewReader(stream))
	for _, want := range []Message{{ID: "7", Event: "status", Data: "a"}, {ID: "42", Event: "status", Data: "b"}} {
		if m, err := p.Next(); err != nil || m != want {
			t.Fatalf("Next = %+v, %v; want %+v (the id block is no event)", m, err, want)
		}
	}
	p = NewParser(bytes.NewReader(got))
	if m, err := p.Next(); err == nil || p.LastEventID() != "42" {
		t.Errorf("an id block alone: Next = %+v, %v; LastEventID %q, want none and 42", m, err, p.LastEventID())
	}
	for _, bad := range []string{"", "4\n2", "4\x002"} {
		if out, err := AppendID([]byte("x"), bad); !errors.Is(err, ErrInvalidID) || string(out) != "x" {
			t.Errorf("AppendID(%q) = %q, %v; want ErrInvalidID and dst unchanged", bad, out, err)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	data := []byte(`{"kind":"CastStatus","apiVersion":"cast.spell.dev/v1","metadata":{"name":"demo-cast","namespace":"default","uid":"5f1c1b0e-8d2a-4c51-9a65-0b7f2b4d1e33","resourceVersion":"123456"},"status":{"phase":"Running","replicas":3,"readyReplicas":3,"conditions":[{"type":"Ready","status":"True","reason":"AllReplicasReady","message":"all replicas are ready","lastTransitionTime":"2024-01-01T00:00:00Z"}],"observedGeneration":7}}`)
	ev := Event{ID: "123456", Event: "status", Data: data}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendEvent(buf[:0], ev)
		if err != nil {
			b.Fatal(err)
		}
	}
}
