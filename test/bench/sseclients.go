package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// streamSpec is one client to open: what it reads and as whom.
type streamSpec struct {
	path  string // e.g. /api/v1/namespaces/bench-3/casts/events
	token string
	ns    int // namespace index it reads, -1 for all namespaces
}

func nsStream(ns int, token string) streamSpec {
	return streamSpec{path: "/api/v1/namespaces/" + streamNS(ns) + "/casts/events", token: token, ns: ns}
}

// sseFleet is many SSE clients of the streamer over loopback HTTP/1.1,
// each on its own TCP connection.
type sseFleet struct {
	base string
	hc   *http.Client
	cur  atomic.Pointer[phase]

	mu      sync.Mutex
	clients []*sseClient

	tooMany  atomic.Int64 // 429 answers
	refused  atomic.Int64 // other non-200 answers and dial errors
	codesMu  sync.Mutex
	codes    map[string]int // refusals by status code or error
	dropped  atomic.Int64   // streams that ended while we still read them
	admitted atomic.Int64
	synced   atomic.Int64
}

type sseClient struct {
	spec   streamSpec
	cancel context.CancelFunc
	done   chan struct{}
	closed atomic.Bool // we hung up, as opposed to the server ending it
}

func newFleet(addr string) *sseFleet {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 60 * time.Second}).DialContext,
		DisableKeepAlives:     true,
		DisableCompression:    true,
		MaxConnsPerHost:       0,
		ResponseHeaderTimeout: 120 * time.Second,
	}
	return &sseFleet{base: "http://" + addr, hc: &http.Client{Transport: tr}}
}

// open connects specs with at most width connecting at a time and waits
// until every admitted client has read its "synced" event. Each client's
// time from its start to its 200 goes into admit. It returns how long the
// whole batch took.
func (f *sseFleet) open(ctx context.Context, specs []streamSpec, width int, admit *hist) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, width)
	syncedBefore := f.synced.Load()
	var ok atomic.Int64
	for _, spec := range specs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			if f.open1(ctx, spec) {
				if admit != nil {
					admit.record(time.Since(t0))
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for f.synced.Load()-syncedBefore < ok.Load() {
		if time.Since(start) > 5*time.Minute || ctx.Err() != nil {
			return elapsed, fmt.Errorf("only %d of %d streams synced", f.synced.Load()-syncedBefore, ok.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return elapsed, nil
}

// open1 opens one stream, honouring Retry-After on 429 a few times.
func (f *sseFleet) open1(ctx context.Context, spec streamSpec) bool {
	for attempt := 0; attempt < 5; attempt++ {
		cctx, cancel := context.WithCancel(ctx)
		resp, err := getStream(cctx, f.hc, f.base+spec.path, spec.token)
		if err != nil {
			cancel()
			f.refused.Add(1)
			f.note(shortErr(err))
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			cancel()
			if resp.StatusCode == http.StatusTooManyRequests {
				f.tooMany.Add(1)
				secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
				time.Sleep(time.Duration(max(secs, 1)) * time.Second)
				continue
			}
			f.refused.Add(1)
			f.note(resp.Status)
			return false
		}
		f.admitted.Add(1)
		c := &sseClient{spec: spec, cancel: cancel, done: make(chan struct{})}
		f.mu.Lock()
		f.clients = append(f.clients, c)
		f.mu.Unlock()
		go f.read(c, resp.Body)
		return true
	}
	return false
}

// getStream asks for an SSE stream at url with a bearer token; the caller
// reads and closes the body.
func getStream(ctx context.Context, hc *http.Client, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	return hc.Do(req)
}

// shortErr names a transport error by its innermost cause, e.g.
// "connect: connection refused".
func shortErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		if j := strings.LastIndex(msg[:i], ": "); j >= 0 {
			return msg[j+2:]
		}
	}
	return msg
}

func (f *sseFleet) note(what string) {
	f.codesMu.Lock()
	defer f.codesMu.Unlock()
	if f.codes == nil {
		f.codes = map[string]int{}
	}
	f.codes[what]++
}

// refusals summarises what refused clients got, e.g. "503 Service Unavailable ×12".
func (f *sseFleet) refusals() string {
	f.codesMu.Lock()
	defer f.codesMu.Unlock()
	var parts []string
	for what, n := range f.codes {
		parts = append(parts, fmt.Sprintf("%s ×%d", what, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (f *sseFleet) read(c *sseClient, body io.ReadCloser) {
	defer close(c.done)
	defer body.Close()
	er := newEventReader(body)
	synced := false
	var s seen
	for {
		kind, st, stamped, err := er.next()
		if err != nil {
			if !c.closed.Load() {
				f.dropped.Add(1)
			}
			return
		}
		now := time.Now()
		switch kind {
		case eventSynced:
			if !synced {
				synced = true
				f.synced.Add(1)
			}
		case eventChange:
			if ph := f.cur.Load(); ph != nil && stamped {
				ph.observeStamp(&s, st, now)
			}
		}
	}
}

// readersPerNS counts open clients by namespace they read.
func (f *sseFleet) readersPerNS(namespaces int) []int {
	out := make([]int, namespaces)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clients {
		if c.spec.ns >= 0 && c.spec.ns < namespaces {
			out[c.spec.ns]++
		}
	}
	return out
}

// closeAll disconnects every client and waits for their readers.
func (f *sseFleet) closeAll() {
	f.mu.Lock()
	clients := f.clients
	f.clients = nil
	f.mu.Unlock()
	for _, c := range clients {
		c.close()
	}
	for _, c := range clients {
		<-c.done
	}
}

func (c *sseClient) close() {
	c.closed.Store(true)
	c.cancel()
}

// stalled opens raw TCP connections that send a stream request and then
// never read: with a 4 KiB receive buffer, the streamer's writes back up
// until its write timeout disconnects them (reason slow_consumer).
func stalled(addr string, specs []streamSpec) ([]net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	var conns []net.Conn
	for _, s := range specs {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			closeConns(conns)
			return nil, err
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", s.path, addr, s.token)
		conns = append(conns, c)
	}
	return conns, nil
}

func closeConns(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}
