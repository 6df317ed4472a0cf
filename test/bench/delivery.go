package main

import (
	"context"
	"fmt"
	"math"
	"time"
)

// deliveryRun measures one window of writes against whatever readers are
// registered on cur, and returns the phase and the usage of the streamer
// (when pid > 0) and kube-apiserver during it.
func (b *bench) deliveryRun(ctx context.Context, set func(*phase), readers []int, pad int) (*phase, []usage, error) {
	return b.deliveryWindow(ctx, set, readers, pad, b.cfg.duration)
}

// deliveryWindow is deliveryRun for a window of length d.
func (b *bench) deliveryWindow(ctx context.Context, set func(*phase), readers []int, pad int, d time.Duration) (*phase, []usage, error) {
	pids := []int{b.cl.apiPID}
	if b.streamer != nil {
		pids = append(pids, b.streamer.pid())
	}
	return b.window(ctx, set, readers, pad, float64(b.cfg.writesPerSec), d, 10*time.Second, pids...)
}

// window writes at rate per second for d with readers registered through
// set, waits up to grace for the expected events, closes the phase (events
// read later count as late) and returns it with the usage of pids over
// the whole window, in pids order.
func (b *bench) window(ctx context.Context, set func(*phase), readers []int, pad int, rate float64, d, grace time.Duration, pids ...int) (*phase, []usage, error) {
	ph := newPhase(int(rate*math.Ceil(d.Seconds())) + 16)
	b.writer.plan(ph, rate, d)
	w := sample(pids...)
	set(ph)
	b.writer.run(ctx, ph, rate, pad)
	want := expected(ph, readers)
	deadline := time.Now().Add(grace)
	for ph.received()+ph.superseded.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	ph.close()
	us := w.end()
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if ph.writes.Load() == 0 {
		return nil, nil, fmt.Errorf("no status write succeeded (%d failed)", ph.failed.Load())
	}
	return ph, us, nil
}

// expected is how many events the readers should see: every successful
// write, once per reader of its namespace.
func expected(ph *phase, readers []int) uint64 {
	var n uint64
	for i := range ph.total {
		if ph.returned[i].Load() != 0 {
			n += uint64(readers[ph.nsOf[i]])
		}
	}
	return n
}

// completeness is how a window's events add up against what was expected.
type completeness struct {
	want, got, superseded, reordered, late, neg uint64
	failed                                      int64
}

func (ph *phase) completeness(readers []int) completeness {
	return completeness{want: expected(ph, readers), got: ph.received(), superseded: ph.superseded.Load(),
		reordered: ph.reordered.Load(), late: ph.late.Load(), neg: ph.lat.neg.Load(), failed: ph.failed.Load()}
}

// complete is the bar for every delivery goal: each expected event was read
// within the window or superseded by a later one of its Cast, nothing was
// read twice or out of order, no latency was negative, no write failed.
func (c completeness) complete() bool {
	return c.want > 0 && c.got+c.superseded == c.want && c.reordered == 0 && c.neg == 0 && c.failed == 0
}

// pct is the share of expected events accounted for, rounded down to a
// tenth, so 24,999 of 25,000 prints as 99.9%, not 100.0%.
func (c completeness) pct() float64 {
	if c.want == 0 {
		return 0
	}
	return math.Floor(1000*float64(c.got+c.superseded)/float64(c.want)) / 10
}

// String is the accounting a row's note and a goal's measured text print.
func (c completeness) String() string {
	s := fmt.Sprintf("%.1f%% of %s expected events", c.pct(), human(float64(c.want)))
	if c.superseded > 0 {
		s += fmt.Sprintf(" (%s superseded by a later write of their Cast)", human(float64(c.superseded)))
	}
	for _, x := range []struct {
		n    uint64
		what string
	}{{c.late, "late (after the window)"}, {c.reordered, "read twice or out of order"}, {c.neg, "with a NEGATIVE latency (clock bug)"}, {uint64(c.failed), "writes failed"}} {
		if x.n > 0 {
			s += fmt.Sprintf("; %s %s", human(float64(x.n)), x.what)
		}
	}
	return s
}

func (b *bench) streamerUsage(us []usage) usage {
	if len(us) > 1 {
		return us[1]
	}
	return usage{}
}

// deliveryRow turns a phase into a table row.
func (b *bench) deliveryRow(scenario, design string, clients int, ph *phase, us []usage, readers []int, extra string) row {
	c := ph.completeness(readers)
	got := c.got
	r := row{
		scenario: scenario, design: design, clients: clients, lat: ph.lat.summary(), hasLat: true,
		throughput: fmt.Sprintf("%s events/s (%d writes/s)", human(float64(got)/b.cfg.duration.Seconds()), int(float64(ph.writes.Load())/b.cfg.duration.Seconds()+0.5)),
		api:        us[0],
	}
	if design == designStreamer {
		r.proc, r.procName = b.streamerUsage(us), "streamer"
	}
	r.note = c.String()
	if extra != "" {
		r.note += "; " + extra
	}
	return r
}

// clientsAt runs scenarios 1, 2 and 4 at one size: connect C stream
// clients, measure idle memory, run the delivery window, the stall
// windows (at the first size only), then the peer design's watches.
func (b *bench) clientsAt(ctx context.Context, C int, first bool) error {
	cfg := b.cfg
	specs := make([]streamSpec, C)
	for i := range specs {
		specs[i] = nsStream(i%cfg.namespaces, b.viewers[i%len(b.viewers)])
	}
	if cfg.runs(scDelivery) || cfg.runs(scMemory) || (first && cfg.runs(scStall)) {
		// A fresh streamer per size, so memory growth is measured from a
		// process that never held clients.
		if err := b.restartStreamer(); err != nil {
			return err
		}
		time.Sleep(b.cfg.settle)
		before, errBefore := readProc(b.streamer.pid())
		fleet := newFleet(b.streamAddr)
		w := sample(b.cl.apiPID, b.streamer.pid())
		var admit hist
		took, err := fleet.open(ctx, specs, 256, &admit)
		us := w.end()
		if err != nil {
			return err
		}
		time.Sleep(b.cfg.settle)
		after, errAfter := readProc(b.streamer.pid())
		admitted := int(fleet.admitted.Load())
		perClient := float64(int64(after.RSS)-int64(before.RSS)) / float64(max(admitted, 1))
		b.res.add(row{scenario: "2. idle memory", design: designStreamer, clients: C, lat: admit.summary(), hasLat: true,
			throughput: fmt.Sprintf("%s connects/s (256 at a time)", human(float64(admitted)/took.Seconds())),
			proc:       us[1], procName: "streamer", api: us[0],
			note: fmt.Sprintf("%d/%d admitted; RSS %s → %s idle = **%s per client**; latency = time to 200",
				admitted, C, mib(before.RSS), mib(after.RSS), kib(perClient)) + refusedNote(fleet)})
		b.res.idle[C] = idleResult{admitted: admitted, perClient: perClient, ok: errBefore == nil && errAfter == nil && after.RSS > 0}
		readers := fleet.readersPerNS(cfg.namespaces)

		if cfg.runs(scDelivery) {
			ph, us, err := b.deliveryRun(ctx, fleet.cur.Store, readers, cfg.messageBytes)
			if err != nil {
				return err
			}
			extra := ""
			if d := fleet.dropped.Load(); d > 0 {
				extra = fmt.Sprintf("%d streams dropped", d)
			}
			b.res.add(b.deliveryRow("1. delivery", designStreamer, C, ph, us, readers, extra))
			b.res.delivery[key(designStreamer, C)] = deliveryResult{sum: ph.lat.summary(), comp: ph.completeness(readers),
				connected: admitted, dropped: int(fleet.dropped.Load())}
			b.res.cdf(fmt.Sprintf("streamer, %s clients", human(float64(C))), &ph.lat)
		}
		if first && cfg.runs(scStall) {
			if err := b.stall(ctx, C, fleet, readers); err != nil {
				return err
			}
			if err := b.writer.reset(ctx, cfg.messageBytes); err != nil {
				return err
			}
		}
		fleet.closeAll()
		b.waitStreams(0)
	}
	if cfg.runs(scDelivery) && C <= cfg.peerMax {
		if err := b.peer(ctx, C, specs, false); err != nil {
			return err
		}
		if first {
			return b.peer(ctx, C, specs, true)
		}
	}
	return nil
}

// peer runs the same writes against C client-go watches, each on its own
// connection or (mux) multiplexed over shared HTTP/2 connections.
func (b *bench) peer(ctx context.Context, C int, specs []streamSpec, mux bool) error {
	wf := newWatchFleet(mux)
	defer wf.closeAll()
	conns0 := connCount(b.cl.cfg.Host)
	took, err := wf.open(ctx, b.cl.cfg, specs, 256)
	if err != nil {
		return err
	}
	time.Sleep(min(2*time.Second, 4*b.cfg.settle)) // initial ADDED events
	readers := make([]int, b.cfg.namespaces)
	for _, s := range specs {
		readers[s.ns]++
	}
	ph, us, err := b.deliveryRun(ctx, wf.cur.Store, readers, b.cfg.messageBytes)
	if err != nil {
		return err
	}
	design := designPeer
	switch {
	case C == 1:
		design = designFloor
	case mux:
		design = designPeerMux
	}
	conns := connCount(b.cl.cfg.Host) - conns0
	extra := fmt.Sprintf("%d watches on %d TLS connection(s), opened in %s", wf.started.Load(), conns, took.Round(time.Millisecond))
	if n := wf.ended.Load(); n > 0 {
		extra += fmt.Sprintf("; %d watches ended early", n)
	}
	b.res.add(b.deliveryRow("1. delivery", design, C, ph, us, readers, extra))
	b.res.delivery[key(design, C)] = deliveryResult{sum: ph.lat.summary(), comp: ph.completeness(readers), connected: int(wf.started.Load())}
	label := fmt.Sprintf("watch per client, %s clients", human(float64(C)))
	switch {
	case C == 1:
		label = designFloor
	case mux:
		label = fmt.Sprintf("watch per client (HTTP/2-muxed), %s clients", human(float64(C)))
	}
	b.res.cdf(label, &ph.lat)
	return nil
}

// stall runs scenario 4 on the connected fleet with large messages:
// rounds of a window without stalled clients followed by a window with 1%
// more clients that stop reading (fresh ones each round; they must be
// disconnected as slow consumers). One hiccup of the shared machine moves a
// window's p99, so the goal compares the median per-window p99 of the two
// kinds of window; the rows pool each kind.
func (b *bench) stall(ctx context.Context, C int, fleet *sseFleet, readers []int) error {
	cfg := b.cfg
	n := max(1, int(math.Round(float64(C)*cfg.stallPercent/100)))
	specs := make([]streamSpec, n)
	for i := range specs {
		specs[i] = streamSpec{path: "/api/v1/casts/events", token: b.viewers[i%len(b.viewers)], ns: -1}
	}
	// Long enough for the stalled sockets to fill and time out inside it.
	window := max(cfg.duration/2, cfg.writeTimeout+3*time.Second)
	var base, stall hist
	var baseUse, stallUse []usage
	res := stallResult{n: n, clients: C}
	for range cfg.stallRounds {
		ph, us, err := b.deliveryWindow(ctx, fleet.cur.Store, readers, cfg.stallMessageBytes, window)
		if err != nil {
			return err
		}
		base.merge(&ph.lat)
		baseUse = sumUsage(baseUse, us)
		res.baseP99s = append(res.baseP99s, ph.lat.quantile(0.99))
		res.note(ph.completeness(readers))

		m0, err := scrape(b.metricsURL())
		if err != nil {
			return err
		}
		conns, err := stalled(b.streamAddr, specs)
		if err != nil {
			return err
		}
		// Measure the stall, not the connecting: the window starts once the
		// stalled streams are open and their sockets full (their snapshot
		// alone is more than a socket holds).
		b.waitStreamsAtLeast(C + n)
		time.Sleep(time.Second)
		ph, us, err = b.deliveryWindow(ctx, fleet.cur.Store, readers, cfg.stallMessageBytes, window)
		if err == nil {
			var closed float64
			closed, err = b.waitSlowConsumers(m0, n)
			res.closed += int(closed)
		}
		closeConns(conns)
		if err != nil {
			return err
		}
		stall.merge(&ph.lat)
		stallUse = sumUsage(stallUse, us)
		res.stallP99s = append(res.stallP99s, ph.lat.quantile(0.99))
		res.note(ph.completeness(readers))
	}
	res.n *= cfg.stallRounds
	res.base, res.stalled = base.summary(), stall.summary()
	pad := fmt.Sprintf("%s messages; %d windows of %s", kib(float64(cfg.stallMessageBytes)), cfg.stallRounds, window)
	b.res.add(b.stallRow(fmt.Sprintf("%s, none stalled", designStreamer), C, &base, baseUse, pad))
	b.res.add(b.stallRow(fmt.Sprintf("%s, %d stalled", designStreamer, n), C, &stall, stallUse,
		fmt.Sprintf("%s; latency of the %d reading clients; %d of %d stalled disconnected as slow_consumer", pad, C, res.closed, res.n)))
	b.res.stallRes = res
	return nil
}

// waitSlowConsumers waits (write timeout + 15 s at most) until n more
// streams closed as slow consumers than in m0, and returns how many did.
func (b *bench) waitSlowConsumers(m0 metrics, n int) (float64, error) {
	const slow = `cast_streamer_streams_closed_total{reason="slow_consumer"}`
	deadline := time.Now().Add(b.cfg.writeTimeout + 15*time.Second)
	for {
		m1, err := scrape(b.metricsURL())
		if err != nil {
			return 0, err
		}
		closed := delta(m0, m1, slow)
		if closed >= float64(n) || time.Now().After(deadline) {
			return closed, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func sumUsage(acc, us []usage) []usage {
	if acc == nil {
		return append([]usage(nil), us...)
	}
	for i := range acc {
		acc[i].OK = acc[i].OK && us[i].OK
		acc[i].CPU += us[i].CPU
		acc[i].PeakRSS = max(acc[i].PeakRSS, us[i].PeakRSS)
	}
	return acc
}

func (b *bench) stallRow(design string, C int, h *hist, us []usage, note string) row {
	r := row{scenario: "4. slow consumers", design: design, clients: C, lat: h.summary(), hasLat: true,
		throughput: fmt.Sprintf("%s events", human(float64(h.count()))), api: us[0], note: note}
	if len(us) > 1 {
		r.proc, r.procName = us[1], "streamer"
	}
	return r
}
