package streamer

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair is a loopback TCP connection: the server's end, detached as a
// stream's is, and the client's, with small socket buffers so a client
// that does not read fills them quickly.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	server, client = s.(*net.TCPConn), c.(*net.TCPConn)
	t.Cleanup(func() { server.Close(); client.Close() })
	if err := server.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if err := client.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	return server, client
}

func detachedWriter(t *testing.T, conn *net.TCPConn, timeout time.Duration) *streamWriter {
	t.Helper()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return &streamWriter{conn: conn, raw: newRawWriter(raw), timeout: timeout}
}

func (sw *streamWriter) writeAll(b []byte) error {
	sw.grab()
	sw.buf = append(sw.buf, b...)
	return sw.flush()
}

// A write that does not fit waits for the client, and what it wrote
// arrives whole and in order; the next write, after a slow one, is not
// refused by the slow one's expired deadline.
func TestWriteConnWaitsForAReader(t *testing.T) {
	server, client := tcpPair(t)
	sw := detachedWriter(t, server, 5*time.Second)
	// 128 KiB: far more than the small socket buffers take, and little
	// enough to pass through their small windows well within the timeout.
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10)
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(100 * time.Millisecond) // the writer finds the socket full first
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(big)+5)))
		got <- b
	}()
	if err := sw.writeAll(big); err != nil {
		t.Fatalf("slow write: %v", err)
	}
	time.Sleep(5500 * time.Millisecond) // past the slow write's deadline
	if err := sw.writeAll([]byte("tail\n")); err != nil {
		t.Fatalf("write after a slow write: %v", err)
	}
	b := <-got
	if !bytes.Equal(b, append(big, "tail\n"...)) {
		t.Fatalf("read %d bytes that differ from the %d written", len(b), len(big)+5)
	}
}

// A client that reads nothing is found out after the write timeout, as a
// deadline error (the slow_consumer reason).
func TestWriteConnDropsAStalledReader(t *testing.T) {
	server, _ := tcpPair(t)
	sw := detachedWriter(t, server, 300*time.Millisecond)
	start := time.Now()
	var err error
	for range 1000 {
		if err = sw.writeAll(bytes.Repeat([]byte("x"), 16<<10)); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) || writeReason(err) != reasonSlowConsumer {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 10*time.Second {
		t.Errorf("stalled reader found out after %v, want the 300ms write timeout", took)
	}
}

// A client that hung up is a disconnect, not a slow consumer.
func TestWriteConnReportsAHangUp(t *testing.T) {
	server, client := tcpPair(t)
	sw := detachedWriter(t, server, time.Second)
	if err := client.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	client.Close() // a reset: the next writes fail
	var err error
	for range 100 {
		if err = sw.writeAll([]byte("data: x\n\n")); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil || writeReason(err) != reasonDisconnect {
		t.Fatalf("err = %v, want a disconnect", err)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Errorf("err = %v, want ECONNRESET or EPIPE", err)
	}
}
