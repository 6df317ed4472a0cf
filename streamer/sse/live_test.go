package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// startParser runs Next in the background on the read end of a pipe, the
// way a test consumes a live HTTP stream.
func startParser(t *testing.T) (*Parser, *io.PipeWriter, <-chan Message) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close(); pw.Close() })
	p := NewParser(pr)
	out := make(chan Message)
	go func() {
		defer close(out)
		for {
			m, err := p.Next()
			if err != nil {
				return
			}
			out <- m
		}
	}()
	return p, pw, out
}

// TestParserLiveCR checks that a CR-terminated line is handled without
// waiting for the next byte, which on a live stream may never come, and that
// an LF arriving later is still treated as part of that CRLF.
func TestParserLiveCR(t *testing.T) {
	_, pw, out := startParser(t)
	steps := []struct {
		write string
		want  string // "" means no event may be dispatched
	}{
		{"data: a\r\r", "a"},
		{"\ndata: b\r", ""}, // the LF completes the previous CRLF, not a blank line
		{"\n\r", "b"},
		{"\n", ""},
		{"data: c\n\n", "c"},
	}
	for _, s := range steps {
		if _, err := io.WriteString(pw, s.write); err != nil {
			t.Fatal(err)
		}
		if s.want == "" {
			select {
			case m := <-out:
				t.Fatalf("after %q: unexpected event %+v", s.write, m)
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		select {
		case m := <-out:
			if m.Data != s.want {
				t.Fatalf("after %q: got %q, want %q", s.write, m.Data, s.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after %q: no event", s.write)
		}
	}
}

// TestParserOnCommentLive checks that heartbeats are observable while Next
// is still blocked waiting for an event.
func TestParserOnCommentLive(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	p := NewParser(pr)
	seen := make(chan string, 10)
	p.OnComment(func(s string) { seen <- s })
	done := make(chan Message)
	go func() {
		m, _ := p.Next()
		done <- m
	}()
	for i := 0; i < 3; i++ {
		if _, err := pw.Write(AppendComment(nil, "heartbeat")); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-seen:
			if s != "heartbeat" {
				t.Fatalf("comment = %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("heartbeat %d not observed", i)
		}
	}
	if n := len(p.Comments()); n != 3 {
		t.Fatalf("Comments() has %d entries while Next is blocked, want 3", n)
	}
	frame, _ := AppendEvent(nil, Event{ID: "1", Data: []byte("x")})
	go func() { _, _ = pw.Write(frame) }()
	select {
	case m := <-done:
		if m != (Message{ID: "1", Event: "message", Data: "x"}) {
			t.Fatalf("event = %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event not dispatched")
	}
	pw.Close()
}

// TestParserConcurrentAccessors is meaningful under -race: accessors are
// documented as safe while another goroutine is inside Next.
func TestParserConcurrentAccessors(t *testing.T) {
	var in bytes.Buffer
	for i := 0; i < 200; i++ {
		in.Write(AppendComment(nil, "hb"))
		in.Write(AppendRetry(nil, time.Duration(i)*time.Millisecond))
		b, _ := AppendEvent(nil, Event{ID: strings.Repeat("i", i%5+1), Data: []byte("x")})
		in.Write(b)
	}
	p := NewParser(&in)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_, _, _ = p.Comments(), p.Retry(), p.LastEventID()
				p.OnComment(func(string) {})
			}
		}
	}()
	msgs, err := collect(t, p, 1000)
	close(stop)
	wg.Wait()
	if !errors.Is(err, io.EOF) || len(msgs) != 200 || len(p.Comments()) != 200 || p.Retry() != 199*time.Millisecond {
		t.Fatalf("err=%v events=%d comments=%d retry=%v", err, len(msgs), len(p.Comments()), p.Retry())
	}
}

// flakyReader fails once at a given offset, like a read deadline firing.
type flakyReader struct {
	r      io.Reader
	failAt int
	n      int
	failed bool
}

var errFlaky = errors.New("transient")

func (f *flakyReader) Read(b []byte) (int, error) {
	if !f.failed && f.n >= f.failAt {
		f.failed = true
		return 0, errFlaky
	}
	if !f.failed && f.n+len(b) > f.failAt {
		b = b[:f.failAt-f.n]
	}
	n, err := f.r.Read(b)
	f.n += n
	return n, err
}

func TestParserResumesAfterReadError(t *testing.T) {
	in := "\xEF\xBB\xBFid: 1\r\ndata: first\r\ndata: line\r\n\r\nevent: e\ndata: second\n\n"
	want := []Message{msg("1", "message", "first\nline"), msg("1", "e", "second")}
	for failAt := 0; failAt <= len(in); failAt++ {
		p := NewParser(&flakyReader{r: strings.NewReader(in), failAt: failAt})
		var got []Message
		errs := 0
		for {
			m, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, errFlaky) {
				errs++
				if errs > 1 {
					t.Fatalf("failAt=%d: error returned twice", failAt)
				}
				continue
			}
			if err != nil {
				t.Fatalf("failAt=%d: %v", failAt, err)
			}
			got = append(got, m)
		}
		if errs != 1 {
			t.Fatalf("failAt=%d: transient error surfaced %d times, want 1", failAt, errs)
		}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("failAt=%d: got %q, want %q", failAt, got, want)
		}
	}
}

func TestParserLimits(t *testing.T) {
	t.Run("long line beyond bufio.Scanner default", func(t *testing.T) {
		data := strings.Repeat("x", 1<<20)
		p := NewParser(strings.NewReader("data: " + data + "\n\n"))
		m, err := p.Next()
		if err != nil || m.Data != data {
			t.Fatalf("err=%v len=%d", err, len(m.Data))
		}
	})
	t.Run("line too long", func(t *testing.T) {
		p := NewParser(strings.NewReader("data: " + strings.Repeat("x", 100) + "\n\ndata: y\n\n"))
		p.max = 64
		if _, err := p.Next(); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		if _, err := p.Next(); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error not sticky: %v", err)
		}
	})
	t.Run("line at limit", func(t *testing.T) {
		p := NewParser(strings.NewReader("data: " + strings.Repeat("x", 58) + "\n\n"))
		p.max = 64
		if m, err := p.Next(); err != nil || len(m.Data) != 58 {
			t.Fatalf("err=%v len=%d", err, len(m.Data))
		}
	})
	t.Run("event data too large", func(t *testing.T) {
		p := NewParser(strings.NewReader(strings.Repeat("data: 0123456789\n", 10) + "\n"))
		p.max = 64
		if _, err := p.Next(); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("default limit", func(t *testing.T) {
		p := NewParser(strings.NewReader(strings.Repeat("x", MaxSize+1) + "\n"))
		if _, err := p.Next(); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}
