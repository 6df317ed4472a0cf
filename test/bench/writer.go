package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// phase is one measurement window of the delivery scenarios: the writes
// planned and made in it, and what readers saw of them.
//
// Each write sets status.message to "t=<send unixnano> p=<phase> n=<seq>"
// (plus padding). A reader that sees the event takes latency = read time -
// send time, from the stamp itself: the write's round trip is part of what
// users wait for. A negative latency is a clock bug; the histogram counts it
// apart and the goals fail on it.
//
// The streamer coalesces to the latest state per Cast, so a client may
// legitimately skip a write when a later write of the same Cast reached it
// first. Each reader keeps, per Cast, the ordinal of the last write it saw
// (seen); the writes it skipped are counted as superseded, never silently.
// A write seen twice or out of order is counted in reordered, a bug.
type phase struct {
	id       int
	total    int            // writes planned
	returned []atomic.Int64 // unixnano when write n returned; 0 = not (successfully) written
	nsOf     []int32        // namespace index of write n
	castOf   []int32        // writer.casts index of write n
	ordOf    []int32        // ordinal of write n among this phase's writes of its Cast
	lat      hist
	writes   atomic.Int64
	failed   atomic.Int64
	span     time.Duration // from the first write sent to the last returned
	start    time.Time     // when the first write was due
	lastSent atomic.Int64  // unixnano of the latest send, to tell whether the writes kept their schedule

	superseded atomic.Uint64 // writes a reader skipped because it saw a later one of the Cast
	reordered  atomic.Uint64 // events seen twice or after a later one of the Cast
	late       atomic.Uint64 // events read after the window closed
	closed     atomic.Bool
}

var phaseIDs atomic.Int64

func newPhase(maxWrites int) *phase {
	return &phase{id: int(phaseIDs.Add(1)), returned: make([]atomic.Int64, maxWrites),
		nsOf: make([]int32, maxWrites), castOf: make([]int32, maxWrites), ordOf: make([]int32, maxWrites)}
}

// close ends the window: events read from now on count as late.
func (p *phase) close() { p.closed.Store(true) }

// received is every event of the phase read within the window.
func (p *phase) received() uint64 { return p.lat.count() + p.lat.neg.Load() }

const stampPrefix = "t="

// stamp is what a reader takes from an event's status.message.
type stamp struct {
	phase, seq int
	sent       int64 // unixnano when the write was sent
}

// seen is one reader's view of the current phase: per Cast, the ordinal of
// the last write it saw. Only its own reader goroutine touches it.
type seen struct {
	phase int
	last  map[int32]int32
}

// observe records an event whose status.message is msg, read at now.
// Events of other phases (initial snapshots, events of an earlier window)
// are ignored.
func (p *phase) observe(s *seen, msg string, now time.Time) {
	if st, ok := parseStamp(msg); ok {
		p.observeStamp(s, st, now)
	}
}

// observeStamp records the event of write st.seq of phase st.phase, read
// at now by the reader whose state is s.
func (p *phase) observeStamp(s *seen, st stamp, now time.Time) {
	if st.phase != p.id || st.seq < 0 || st.seq >= p.total {
		return
	}
	if p.closed.Load() {
		p.late.Add(1)
		return
	}
	p.lat.record(time.Duration(now.UnixNano() - st.sent))
	if s.phase != p.id || s.last == nil {
		s.phase, s.last = p.id, map[int32]int32{}
	}
	c, k := p.castOf[st.seq], p.ordOf[st.seq]
	j, ok := s.last[c]
	if !ok {
		j = -1
	}
	if k <= j {
		p.reordered.Add(1)
		return
	}
	p.superseded.Add(uint64(k - j - 1))
	s.last[c] = k
}

// parseStamp reads "t=<nanos> p=<phase> n=<seq>" from the start of msg.
func parseStamp(msg string) (stamp, bool) {
	rest, ok := strings.CutPrefix(msg, stampPrefix)
	if !ok {
		return stamp{}, false
	}
	return stampFields([]byte(rest))
}

// writer patches Cast statuses at a fixed rate, as the controller would.
type writer struct {
	k8s   client.Client
	casts []castRef
	next  int // round-robin position, kept across phases
}

// plan fixes which Cast each of the phase's writes at rate per second for
// d goes to, round-robin over every Cast, before any reader can see the
// phase (readers need castOf and ordOf to count superseded writes).
func (w *writer) plan(p *phase, rate float64, d time.Duration) {
	p.total = min(int(rate*d.Seconds()), len(p.returned))
	ords := map[int]int32{}
	for n := range p.total {
		i := w.next % len(w.casts)
		w.next++
		p.castOf[n], p.nsOf[n], p.ordOf[n] = int32(i), int32(w.casts[i].ns), ords[i]
		ords[i]++
	}
}

// run makes the writes plan fixed, at rate per second, padding each message
// to pad bytes, and returns once every write returned. Writes go out on a
// fixed schedule from a pool of workers, so one slow write does not delay
// the next ones.
func (w *writer) run(ctx context.Context, p *phase, rate float64, pad int) {
	total := p.total
	interval := time.Duration(float64(time.Second) / rate)
	type job struct {
		n   int
		ref castRef
	}
	jobs := make(chan job, total)
	var wg sync.WaitGroup
	// Enough workers for the rate at ~25 writes/s each (a write takes a few
	// ms, far more when kube-apiserver is loaded).
	for range min(512, max(16, int(rate/25))) {
		wg.Go(func() {
			for j := range jobs {
				w.write(ctx, p, j.n, j.ref, pad)
			}
		})
	}
	start := time.Now()
	p.start = start
	for n := range total {
		if wait := time.Until(start.Add(time.Duration(n) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- job{n, w.casts[p.castOf[n]]}
	}
	close(jobs)
	wg.Wait()
	p.span = time.Since(start)
}

// sendRate is the write rate the phase achieved: its successful writes
// over the time until the last one was sent plus one interval (at least
// the planned span), so a slow last response does not count against the
// writer, a backlog does.
func (p *phase) sendRate(rate float64) float64 {
	interval := time.Duration(float64(time.Second) / rate)
	until := time.Duration(p.lastSent.Load()-p.start.UnixNano()) + interval
	return float64(p.writes.Load()) / max(until.Seconds(), p.planned(rate).Seconds())
}

// planned is how long the planned writes take at rate: the window, less
// the fraction of a write that did not fit in it.
func (p *phase) planned(rate float64) time.Duration {
	return time.Duration(float64(p.total) / rate * float64(time.Second))
}

func (w *writer) write(ctx context.Context, p *phase, n int, ref castRef, pad int) {
	sent := time.Now().UnixNano()
	for {
		if l := p.lastSent.Load(); l >= sent || p.lastSent.CompareAndSwap(l, sent) {
			break
		}
	}
	msg := fmt.Sprintf("%s%d p=%d n=%d", stampPrefix, sent, p.id, n)
	if extra := pad - len(msg) - 1; extra > 0 {
		msg += " " + strings.Repeat("x", extra)
	}
	body := fmt.Sprintf(`{"status":{"message":%q,"progress":%d}}`, msg, n%100)
	cast := &castv1alpha1.Cast{}
	cast.Namespace, cast.Name = streamNS(ref.ns), ref.name
	err := w.k8s.Status().Patch(ctx, cast, client.RawPatch(types.MergePatchType, []byte(body)))
	if err != nil {
		p.failed.Add(1)
		return
	}
	p.returned[n].Store(time.Now().UnixNano())
	p.writes.Add(1)
}

// reset writes every Cast once with a pad-byte message, outside any
// window, so a later size does not start with the large messages of the
// slow-consumer windows in every client's snapshot.
func (w *writer) reset(ctx context.Context, pad int) error {
	p := newPhase(len(w.casts))
	p.total = len(w.casts)
	return parallel(ctx, len(w.casts), 16, func(i int) error {
		w.write(ctx, p, i, w.casts[i], pad)
		if p.failed.Load() > 0 {
			return fmt.Errorf("resetting cast %s/%s failed", streamNS(w.casts[i].ns), w.casts[i].name)
		}
		return nil
	})
}
