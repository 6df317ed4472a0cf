package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// screenWindow is one rate's deliveries and who has seen them. Delivery i
// goes to Cast castBase + i%casts as that Cast's (i/casts)-th delivery;
// its global number, in the step name, is seqBase + i.
type screenWindow struct {
	rate, n, casts, steps int
	castBase, seqBase     int
	clients               int32 // readers each delivery must reach

	start    []atomic.Int64 // POST start, unix ns; 0 until sent
	lastRead []atomic.Int64 // latest read among the clients that saw it, unix ns
	seen     []atomic.Int32 // clients that saw it

	done       atomic.Int64 // deliveries every client saw
	lat        hist         // POST start → the last client's read
	hooks      hist         // POST start → response read
	hookFailed atomic.Int64
	negative   atomic.Int64 // a read before its POST started: a clock or harness bug
	mismatched atomic.Int64 // an event whose Cast does not own its delivery number
}

func newScreenWindow(rate, n, casts, castBase, seqBase, clients int) *screenWindow {
	casts = min(casts, n)
	return &screenWindow{rate: rate, n: n, casts: casts, steps: (n+casts-1)/casts + 1,
		castBase: castBase, seqBase: seqBase, clients: int32(clients),
		start: make([]atomic.Int64, n), lastRead: make([]atomic.Int64, n), seen: make([]atomic.Int32, n)}
}

// observe is one client reading Cast c's event for delivery d at now.
// Latest state wins in the streamer: a client behind on a Cast may get
// only its newest delivery, which also stands for the earlier ones of the
// same Cast it has not seen. last is the client's newest delivery index
// per Cast of this window, -1 for none.
func (w *screenWindow) observe(last []int32, c, d int, now int64) {
	i := d - w.seqBase
	if i < 0 || i >= w.n {
		return // another window's Cast
	}
	if c != w.castBase+i%w.casts {
		w.mismatched.Add(1)
		return
	}
	slot, k := i%w.casts, int32(i/w.casts)
	for kk := last[slot] + 1; kk <= k; kk++ {
		w.mark(int(kk)*w.casts+slot, now)
	}
	last[slot] = max(last[slot], k)
}

// mark counts one more client for delivery j. The client that completes
// the count takes the latest read time among all of them: each raises
// lastRead before it counts itself.
func (w *screenWindow) mark(j int, now int64) {
	for {
		m := w.lastRead[j].Load()
		if now <= m || w.lastRead[j].CompareAndSwap(m, now) {
			break
		}
	}
	if w.seen[j].Add(1) != w.clients {
		return
	}
	start := w.start[j].Load()
	d := time.Duration(w.lastRead[j].Load() - start)
	if start == 0 || d < 0 {
		w.negative.Add(1)
	} else {
		w.lat.record(d)
	}
	w.done.Add(1)
}

// partial counts deliveries some but not all clients saw.
func (w *screenWindow) partial() int {
	n := 0
	for j := range w.seen {
		if s := w.seen[j].Load(); s > 0 && s < w.clients {
			n++
		}
	}
	return n
}

// screenFleet is the scenario's SSE clients: like sseFleet's, one
// HTTP/1.1 connection each, but reading the delivery named in
// status.message instead of a writer's stamp.
type screenFleet struct {
	base    string
	hc      *http.Client
	cur     atomic.Pointer[screenWindow]
	mu      sync.Mutex
	cancels []context.CancelFunc
	wg      sync.WaitGroup
	open1s  atomic.Int64
	synced  atomic.Int64
	dropped atomic.Int64
	closing atomic.Bool
}

func newScreenFleet(addr string) *screenFleet {
	f := newFleet(addr) // the same transport as the delivery clients
	return &screenFleet{base: f.base, hc: f.hc}
}

// open connects every spec, width at a time, and waits until all have
// read "synced"; a client that is refused fails the scenario.
func (f *screenFleet) open(ctx context.Context, specs []streamSpec, width int) error {
	sem := make(chan struct{}, width)
	var failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for _, s := range specs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f.connect(ctx, s); err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d screen clients not admitted, first: %w", n, len(specs), first.Load().(error))
	}
	deadline := time.Now().Add(2 * time.Minute)
	for f.synced.Load() < int64(len(specs)) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d screen clients synced", f.synced.Load(), len(specs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (f *screenFleet) connect(ctx context.Context, s streamSpec) error {
	cctx, cancel := context.WithCancel(ctx)
	resp, err := getStream(cctx, f.hc, f.base+s.path, s.token)
	if err != nil {
		cancel()
		return fmt.Errorf("opening a screen stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return fmt.Errorf("opening a screen stream: %s", resp.Status)
	}
	f.mu.Lock()
	f.cancels = append(f.cancels, cancel)
	f.mu.Unlock()
	f.open1s.Add(1)
	f.wg.Go(func() { f.read(resp.Body) })
	return nil
}

func (f *screenFleet) connected() int { return int(f.open1s.Load() - f.dropped.Load()) }

var (
	screenKey   = []byte(`"message":"screen: c=`)
	screenDelim = []byte(" d=")
	syncedLine  = []byte("event: synced")
)

// read scans the stream's lines without allocating per event: "event:
// synced" once, then data lines whose message names a delivery. Each
// event is one data line of JSON; lines longer than the buffer are
// skipped (they cannot be this scenario's).
func (f *screenFleet) read(body io.ReadCloser) {
	defer body.Close()
	r := bufio.NewReaderSize(body, 8192)
	synced := false
	var win *screenWindow
	var last []int32
	for {
		line, err := r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
			line = nil
		}
		if err != nil {
			if !f.closing.Load() {
				f.dropped.Add(1)
			}
			return
		}
		if !synced && bytes.HasPrefix(line, syncedLine) {
			synced = true
			f.synced.Add(1)
			continue
		}
		if !bytes.HasPrefix(line, prefixData) {
			continue
		}
		now := time.Now().UnixNano()
		at := bytes.Index(line, screenKey)
		if at < 0 {
			continue
		}
		c, rest, ok1 := number(line[at+len(screenKey):])
		rest, ok2 := bytes.CutPrefix(rest, screenDelim)
		d, _, ok3 := number(rest)
		w := f.cur.Load()
		if !(ok1 && ok2 && ok3) || w == nil {
			continue
		}
		if w != win {
			win, last = w, newLast(w.casts)
		}
		w.observe(last, c, d, now)
	}
}

// closeAll disconnects every client and waits for their readers.
func (f *screenFleet) closeAll() {
	f.closing.Store(true)
	f.mu.Lock()
	for _, c := range f.cancels {
		c()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
