package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// phase is one measurement window of the delivery scenarios: the writes
// made in it, when each returned, and the latencies readers saw.
//
// Each write sets status.message to "t=<send unixnano> p=<phase> n=<seq>"
// (plus padding). A reader that sees the event looks up when write n
// returned; latency = read time - return time. An event read before its
// write returned (it can: the watch and the response race) counts as 0.
type phase struct {
	id       int
	returned []atomic.Int64 // unixnano when write n returned; 0 = not yet
	nsOf     []int32        // namespace index of write n
	lat      hist
	early    atomic.Uint64 // events read before their write returned
	writes   atomic.Int64
	failed   atomic.Int64
}

var phaseIDs atomic.Int64

func newPhase(maxWrites int) *phase {
	return &phase{id: int(phaseIDs.Add(1)), returned: make([]atomic.Int64, maxWrites), nsOf: make([]int32, maxWrites)}
}

const stampPrefix = "t="

// observe records the latency of an event whose status.message is msg,
// read at now. Events of other phases (initial snapshots, late events of
// an earlier window) are ignored.
func (p *phase) observe(msg string, now time.Time) {
	if id, n, ok := parseStamp(msg); ok {
		p.observeStamp(id, n, now)
	}
}

// observeStamp records the latency of write n of phase id, read at now.
func (p *phase) observeStamp(id, n int, now time.Time) {
	if id != p.id || n < 0 || n >= len(p.returned) {
		return
	}
	ret := p.returned[n].Load()
	if ret == 0 {
		p.early.Add(1)
		p.lat.record(0)
		return
	}
	p.lat.record(time.Duration(now.UnixNano() - ret))
}

// parseStamp reads "t=<nanos> p=<phase> n=<seq>" from the start of msg.
func parseStamp(msg string) (phaseID, seq int, ok bool) {
	if !strings.HasPrefix(msg, stampPrefix) {
		return 0, 0, false
	}
	f := strings.SplitN(msg, " ", 4)
	if len(f) < 3 || !strings.HasPrefix(f[1], "p=") || !strings.HasPrefix(f[2], "n=") {
		return 0, 0, false
	}
	ph, err1 := strconv.Atoi(f[1][2:])
	n, err2 := strconv.Atoi(f[2][2:])
	return ph, n, err1 == nil && err2 == nil
}

// writer patches Cast statuses at a fixed rate, as the controller would.
type writer struct {
	k8s   client.Client
	casts []castRef
	next  int // round-robin position, kept across phases
}

// run writes at rate per second for d, padding each message to pad bytes,
// and returns once every write returned. Writes go out on a fixed
// schedule from a pool of workers, so one slow write does not delay the
// next ones.
func (w *writer) run(ctx context.Context, p *phase, rate int, d time.Duration, pad int) {
	total := min(int(float64(rate)*d.Seconds()), len(p.returned))
	interval := time.Second / time.Duration(rate)
	type job struct {
		n   int
		ref castRef
	}
	jobs := make(chan job, total)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for j := range jobs {
				w.write(ctx, p, j.n, j.ref, pad)
			}
		})
	}
	start := time.Now()
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
		ref := w.casts[w.next%len(w.casts)]
		w.next++
		p.nsOf[n] = int32(ref.ns)
		jobs <- job{n, ref}
	}
	close(jobs)
	wg.Wait()
}

func (w *writer) write(ctx context.Context, p *phase, n int, ref castRef, pad int) {
	msg := fmt.Sprintf("%s%d p=%d n=%d", stampPrefix, time.Now().UnixNano(), p.id, n)
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
	return parallel(ctx, len(w.casts), 16, func(i int) error {
		w.write(ctx, p, i, w.casts[i], pad)
		if p.failed.Load() > 0 {
			return fmt.Errorf("resetting cast %s/%s failed", streamNS(w.casts[i].ns), w.casts[i].name)
		}
		return nil
	})
}
