package streamer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/admission"
	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// BenchmarkDelivery measures what one delivered event costs the streamer
// on its real path, without kube-apiserver: Casts enter a hub.Hub through
// OnUpdate (as from the informer), and each of the clients reads a
// namespace stream served by Server.stream (detached HTTP/1.1 connection,
// pump, streamWriter) over loopback TCP. Only authentication and
// authorization, which need kube-apiserver, are skipped.
//
// One op is one round: one status write in each namespace, after which
// the round waits until every client has read its event. Rounds model
// the bench's 10,000-client row (5 writes/s per namespace): every event
// is its own wake-up and write, none is coalesced or batched with the
// next. ns/delivery is wall time, cpu-ns/delivery the process's CPU time
// (streamer and the in-process readers, which cost the same before and
// after a change to the streamer), allocs/delivery every allocation of
// the process, per event read. Run it with, for example,
//
//	go test -run '^$' -bench Delivery -benchtime 300x -cpuprofile cpu.out ./streamer/
//
// (no envtest: the suite's kube-apiserver starts only for TestStreamer).
func BenchmarkDelivery(b *testing.B) {
	for _, clients := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchDelivery(b, clients, 10) })
	}
}

// TestDeliveryCountsEveryEvent runs the benchmark's path briefly and
// checks what the benchmark takes on trust and the metrics promise: every
// client reads every event, each counted once in events_sent and observed
// once in the delivery lag histogram.
func TestDeliveryCountsEveryEvent(t *testing.T) {
	const clients, rounds = 40, 30
	rig := newDeliveryRig(t, clients, 4)
	sent0 := statusEventsSent()
	lag0 := lagCount(t)
	for round := range rounds {
		rig.round(t, round)
	}
	if n := rig.delivered.Load(); n != clients*rounds {
		t.Fatalf("read %d events, want %d", n, clients*rounds)
	}
	if got := statusEventsSent() - sent0; got != clients*rounds {
		t.Errorf("events_sent{event=status|progress} rose by %v, want %d", got, clients*rounds)
	}
	if got := lagCount(t) - lag0; got != clients*rounds {
		t.Errorf("delivery lag observed %d times, want %d", got, clients*rounds)
	}
}

// statusEventsSent is what the rounds send: a Cast's first write is a
// status event (its phase changes), the later ones progress events.
func statusEventsSent() float64 {
	return testutil.ToFloat64(sentSeries[sentSlot(wire.KindStatus)]) + testutil.ToFloat64(sentSeries[sentSlot(wire.KindProgress)])
}

func lagCount(t *testing.T) uint64 {
	t.Helper()
	var m dto.Metric
	if err := deliveryLag.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

type deliveryRig struct {
	hub       *hub.Hub
	namespace []string
	clients   int
	rv        int64
	remaining atomic.Int64 // events of the round not yet read
	delivered atomic.Int64 // events read since the last reset
	roundDone chan struct{}
	readers   sync.WaitGroup
}

const castsPerNS = 10

func benchDelivery(b *testing.B, clients, namespaces int) {
	rig := newDeliveryRig(b, clients, namespaces)
	rig.delivered.Store(0)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, err := processCPU()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for round := range b.N {
		rig.round(b, round)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1, err := processCPU()
	if err != nil {
		b.Fatal(err)
	}
	cpu := cpu1 - cpu0
	runtime.ReadMemStats(&m1)
	n := rig.delivered.Load()
	if want := int64(b.N) * int64(clients); n != want {
		b.Fatalf("delivered %d events, want %d", n, want)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/delivery")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/delivery")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n), "allocs/delivery")
}

// newDeliveryRig serves clients streams, spread over namespaces, each with
// castsPerNS Casts, and returns once every client has read "synced".
func newDeliveryRig(tb testing.TB, clients, namespaces int) *deliveryRig {
	rig := &deliveryRig{hub: hub.New(0, nil), clients: clients, roundDone: make(chan struct{}, 1)}
	for i := range namespaces {
		ns := "ns-" + strconv.Itoa(i)
		rig.namespace = append(rig.namespace, ns)
		for c := range castsPerNS {
			rig.hub.OnAdd(rig.cast(ns, c, 0), true)
		}
	}
	rig.hub.MarkSynced(strconv.FormatInt(rig.rv, 10))

	s := &Server{
		opts: Options{HeartbeatInterval: time.Hour, MaxStreamDuration: time.Hour, WriteTimeout: 10 * time.Second,
			Retry: time.Second, MaxStreamsPerUser: clients, Clock: nil},
		hub:      rig.hub,
		limiter:  admission.NewLimiter(admission.LimitOptions{MaxStreamsPerUser: clients}),
		stopping: make(chan struct{}),
	}
	s.opts.setDefaults()
	id := auth.Identity{User: &user.DefaultInfo{Name: "bench"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{namespace}", func(w http.ResponseWriter, r *http.Request) {
		req, err := parseRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// A logger of its own: the process-wide one belongs to the suite,
		// which reads it, and can be set only once.
		s.stream(w, r.WithContext(logf.IntoContext(r.Context(), logr.Discard())), id, req, false)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		rig.hub.Close() // ends every detached stream ("shutdown")
		_ = srv.Shutdown(context.Background())
		s.detached.Wait()
		rig.readers.Wait()
	})

	synced := make(chan error, clients)
	for i := range clients {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		rig.readers.Add(1)
		go rig.read(conn, rig.namespace[i%namespaces], synced)
	}
	for range clients {
		if err := <-synced; err != nil {
			tb.Fatal(err)
		}
	}

	return rig
}

// round makes one status write in every namespace and waits until every
// client has read its event.
func (rig *deliveryRig) round(tb testing.TB, round int) {
	rig.remaining.Store(int64(rig.clients))
	for _, ns := range rig.namespace {
		rig.hub.OnUpdate(nil, rig.cast(ns, round%castsPerNS, int32(round%100)+1))
	}
	select {
	case <-rig.roundDone:
	case <-time.After(30 * time.Second):
		tb.Fatalf("round %d: %d of %d clients did not get their event", round, rig.remaining.Load(), rig.clients)
	}
}

// cast is Cast ns/c-<i> at a new resourceVersion; progress 0 is Queued,
// anything else Running with that progress, so each write is a change.
func (rig *deliveryRig) cast(ns string, i int, progress int32) *castv1alpha1.Cast {
	rig.rv++
	phase := castv1alpha1.PhaseQueued
	if progress > 0 {
		phase = castv1alpha1.PhaseRunning
	}
	return &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "c-" + strconv.Itoa(i),
			ResourceVersion: strconv.FormatInt(rig.rv, 10), Labels: map[string]string{"team": ns}},
		Spec: castv1alpha1.CastSpec{Repository: "spell-platform/app", Workflow: "cast.yml"},
		Status: castv1alpha1.CastStatus{Phase: phase, Progress: progress, Message: "step " + strconv.Itoa(int(progress)),
			RunID: 1234567, RunAttempt: 1, RunURL: "https://github.com/spell-platform/app/actions/runs/1234567"},
	}
}

// read is one client: it opens ns's stream, reports once it is synced,
// then counts every event (its "data:" line) it reads, with no allocation.
func (rig *deliveryRig) read(conn net.Conn, ns string, synced chan<- error) {
	defer rig.readers.Done()
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /" + ns + " HTTP/1.1\r\nHost: bench\r\n\r\n")); err != nil {
		synced <- err
		return
	}
	br := bufio.NewReaderSize(conn, 4096)
	// Before the synced event, in it (its data line is not an event to
	// count), then live, reported once synced's data is read.
	const before, inSynced, live = 0, 1, 2
	state := before
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if state != live {
				synced <- fmt.Errorf("stream of %s ended before synced: %w", ns, err)
			}
			return
		}
		switch {
		case state == before:
			if bytes.Equal(line, []byte("event: synced\n")) {
				state = inSynced
			}
		case state == inSynced:
			if bytes.HasPrefix(line, []byte("data:")) {
				state = live
				synced <- nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			rig.delivered.Add(1)
			if rig.remaining.Add(-1) == 0 {
				rig.roundDone <- struct{}{}
			}
		}
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading the process's CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
