package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// satConfig sizes scenario 7, the saturation curve.
type satConfig struct {
	clientsFlag string
	clients     []int
	window      time.Duration // length of one step's writes
	start       float64       // deliveries/s of the first step
	factor      float64       // write rate growth per step
	steps       int           // most steps per curve
	maxWrites   float64       // highest write rate tried (writes/s)
	p99         time.Duration // a step passes with p99 at most this
}

func (s *satConfig) bind(fs *flag.FlagSet) {
	fs.StringVar(&s.clientsFlag, "saturation-clients", "1000,10000,20000", "comma-separated client counts of the saturation curves (scenario 7)")
	fs.DurationVar(&s.window, "saturation-window", 5*time.Second, "length of each step's writes in the saturation curves")
	fs.Float64Var(&s.start, "saturation-start", 5000, "deliveries/s of a curve's first step (comfortably sustainable by every design)")
	fs.Float64Var(&s.factor, "saturation-factor", 1.5, "write-rate growth per step of the saturation curves")
	fs.IntVar(&s.steps, "saturation-steps", 12, "most steps per saturation curve")
	fs.Float64Var(&s.maxWrites, "saturation-max-writes", 3000, "highest status write rate (writes/s) a curve tries")
	fs.DurationVar(&s.p99, "saturation-p99", 100*time.Millisecond, "a step is sustained with every event read and p99 at most this")
}

func (s *satConfig) smoke() map[string]func() {
	return map[string]func(){
		"saturation-clients": func() { s.clientsFlag = "20,60" }, "saturation-window": func() { s.window = 1500 * time.Millisecond },
		"saturation-start": func() { s.start = 200 }, "saturation-steps": func() { s.steps = 3 },
	}
}

func (s *satConfig) validate() error {
	s.clients = nil
	for _, f := range strings.Split(s.clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("-saturation-clients: %q is not a positive number", f)
		}
		s.clients = append(s.clients, n)
	}
	if s.window <= 0 || s.start <= 0 || s.factor <= 1 || s.steps <= 0 || s.maxWrites <= 0 || s.p99 <= 0 {
		return errors.New("-saturation-window, -start, -steps, -max-writes and -p99 must be positive, -factor above 1")
	}
	return nil
}

// satPoint is one step of a curve.
type satPoint struct {
	clients   int
	design    string
	step      int
	rate      float64 // writes/s asked
	writeRate float64 // writes/s achieved (successful writes over the time they took)
	offered   float64 // expected deliveries/s
	delivered float64 // events read per second of the window
	sum       summary
	comp      completeness
	server    usage         // the streamer, the floor, or kube-apiserver for the watch design
	api, self usage         // kube-apiserver; the bench itself (the load generator)
	wall      time.Duration // window incl. the wait for stragglers
	dropped   int64
	pass      bool
	why       string // why the step failed
}

// usPerDelivery is the design's server CPU per event delivered, in µs.
func (p satPoint) usPerDelivery() float64 {
	if !p.server.OK || p.comp.got == 0 {
		return -1
	}
	return p.server.CPU * 1e6 / float64(p.comp.got)
}

// satCurve is one design's climb at one size.
type satCurve struct {
	clients int
	design  string
	points  []satPoint
	note    string // why it was not run, or how the clients connected
}

// best is the highest sustained step (nil if none), and whether the climb
// reached its knee: a confirmed (not retried) step above it failed for the
// design's own sake. A curve that stopped at its last step or at the
// writer's limit only gives a lower bound.
func (c satCurve) best() (*satPoint, bool) {
	var best *satPoint
	for i := range c.points {
		if p := &c.points[i]; p.pass && (best == nil || p.rate > best.rate) {
			best = p
		}
	}
	knee := false
	for _, p := range c.points {
		if !p.pass && !strings.HasPrefix(p.why, retriedMark) && !strings.HasPrefix(p.why, whyWriter) && (best == nil || p.rate > best.rate) {
			knee = true
		}
	}
	return best, knee
}

const (
	whyWriter   = "writes could not keep up"
	retriedMark = "(retried) "
)

// judge decides whether a step was sustained, and if not, why. When
// apiServes, kube-apiserver is the design's own server (the watch design),
// so writes it cannot keep up with are the design saturating, a knee;
// otherwise they are the harness's limit, and the curve only a lower bound.
func judge(p *satPoint, limit time.Duration, apiServes bool) {
	var why []string
	switch {
	case p.writeRate >= 0.9*p.rate:
	case apiServes:
		why = append(why, fmt.Sprintf("kube-apiserver, serving the watches, took the writes at %.0f of %.0f writes/s", p.writeRate, p.rate))
	default:
		why = append(why, fmt.Sprintf("%s (%.0f of %.0f writes/s: kube-apiserver or the writer is the limit)", whyWriter, p.writeRate, p.rate))
	}
	if p.dropped > 0 {
		why = append(why, fmt.Sprintf("%d streams dropped", p.dropped))
	}
	if !p.comp.complete() {
		why = append(why, p.comp.String())
	}
	if !p.sum.valid() || p.sum.P99 > limit {
		why = append(why, fmt.Sprintf("p99 %s > %s", dur(p.sum.P99), dur(limit)))
	}
	p.pass, p.why = len(why) == 0, strings.Join(why, "; ")
}

// nextRate is the write rate of the step after one at rate, or 0 when the
// climb is over (the next would pass max).
func nextRate(rate, factor, max float64) float64 {
	if next := rate * factor; next <= max*1.0001 {
		return next
	}
	return 0
}

// climb raises the write rate step by step against readers registered
// through set until a step is not sustained. serverPID is the process
// that does the fan-out (for the watch design, kube-apiserver); dropped
// counts streams lost so far.
func (b *bench) climb(ctx context.Context, c *satCurve, set func(*phase), readers []int, serverPID int, dropped func() int64) error {
	cfg := b.cfg.sat
	total := 0
	for _, r := range readers {
		total += r
	}
	if total == 0 {
		c.note = "no client connected"
		return nil
	}
	// Writes spread evenly over namespaces: a write reaches total/ns clients.
	perWrite := float64(total) / float64(len(readers))
	rate := cfg.start / perWrite
	// A short unrecorded warm-up at the first rate: the first writes after
	// thousands of clients connected pay for cold caches and heap growth,
	// which is not the design's steady state.
	if _, _, err := b.window(ctx, set, readers, b.cfg.messageBytes, rate, min(2*time.Second, cfg.window), time.Second, os.Getpid()); err != nil {
		return err
	}
	l := ladder{factor: cfg.factor, max: cfg.maxWrites, maxDescents: 4}
	for step := 0; step < cfg.steps && rate > 0; step++ {
		d0 := dropped()
		t0 := time.Now()
		ph, us, err := b.window(ctx, set, readers, b.cfg.messageBytes, rate, cfg.window, 2*time.Second, b.cl.apiPID, serverPID, os.Getpid())
		if err != nil {
			return err
		}
		p := satPoint{clients: c.clients, design: c.design, step: step, rate: rate, sum: ph.lat.summary(), comp: ph.completeness(readers),
			server: us[1], api: us[0], self: us[2],
			wall: time.Since(t0), dropped: dropped() - d0}
		secs := ph.planned(rate).Seconds()
		p.writeRate = ph.sendRate(rate)
		p.offered, p.delivered = float64(p.comp.want)/secs, float64(p.comp.got)/secs
		judge(&p, cfg.p99, serverPID == b.cl.apiPID)
		b.progress("saturation: %s, %d clients, %.1f writes/s: p99 %s, %.1f%%, pass %v", c.design, c.clients, rate, dur(p.sum.P99), p.comp.pct(), p.pass)
		next, retry := l.after(rate, p.pass)
		if retry {
			p.why = retriedMark + p.why
		}
		c.points = append(c.points, p)
		rate = next
	}
	return nil
}

// ladder is the climb's decision after each step, kept apart from the
// measuring so it can be tested.
//   - A sustained step goes up by factor (up to max), unless the climb came
//     down to it: then the knee lies just above and the climb is over.
//   - One hiccup of the shared machine is not a knee: the first failed step
//     of a climb is run once more (the first try stays in the curve,
//     marked), and the climb ends if it fails again.
//   - When the very first rate is not sustained, the climb steps down (up
//     to maxDescents times) until one is, so a loaded machine still yields
//     a knee instead of no measurement.
type ladder struct {
	factor, max           float64
	maxDescents, descents int
	retried, passed       bool
}

// after returns the next rate (0: stop), and whether it is a retry of rate.
func (l *ladder) after(rate float64, pass bool) (next float64, retry bool) {
	switch {
	case pass && l.descents > 0:
		return 0, false
	case pass:
		l.passed = true
		return nextRate(rate, l.factor, l.max), false
	case !l.retried:
		l.retried = true
		return rate, true
	case !l.passed && l.descents < l.maxDescents:
		l.descents++
		return rate / l.factor, false
	}
	return 0, false
}

// saturation runs scenario 7: for each size, the streamer, the floor and
// (up to -peer-max-clients) the watch-per-client design each climb the
// same ladder of write rates.
func (b *bench) saturation(ctx context.Context) error {
	started := time.Now()
	// Each client is a socket in the bench and in the server: a size above
	// the open-files limit (minus room for everything else) cannot connect.
	fds, err := raiseFileLimit()
	if err != nil {
		return err
	}
	for _, asked := range b.cfg.sat.clients {
		C := asked
		capNote := ""
		if room := int(fds) - 1024; C > room {
			C = room / 1000 * 1000
			capNote = fmt.Sprintf("asked %s clients; the open-files limit of %s per process (bench and server alike) allows %s; ", human(float64(asked)), human(float64(fds)), human(float64(C)))
			b.progress("saturation: %s clients exceed the open-files limit (%d); running %d", human(float64(asked)), fds, C)
		}
		for _, design := range []string{designStreamer, designSatFloor, designPeer} {
			c := satCurve{clients: C, design: design}
			b.progress("saturation: %s, %d clients", design, C)
			var err error
			switch design {
			case designStreamer:
				err = b.satStreamer(ctx, &c)
			case designSatFloor:
				err = b.satFloor(ctx, &c)
			case designPeer:
				if C > b.cfg.peerMax {
					c.note = fmt.Sprintf("not run: more than -peer-max-clients (%d) watches", b.cfg.peerMax)
				} else {
					err = b.satPeer(ctx, &c)
				}
			}
			if err != nil {
				return fmt.Errorf("%s, %d clients: %w", design, C, err)
			}
			c.note = capNote + c.note
			b.res.sat.curves = append(b.res.sat.curves, c)
			b.res.add(satRow(c))
		}
	}
	b.res.sat.took = time.Since(started)
	return nil
}

func (b *bench) satStreamer(ctx context.Context, c *satCurve) error {
	if err := b.restartStreamer(); err != nil {
		return err
	}
	defer func() { b.streamer.stop(); b.streamer = nil }()
	specs := make([]streamSpec, c.clients)
	for i := range specs {
		specs[i] = nsStream(i%b.cfg.namespaces, b.viewers[i%len(b.viewers)])
	}
	return b.satSSE(ctx, c, b.streamAddr, specs, b.streamer.pid(), func() { b.waitStreams(0) })
}

func (b *bench) satFloor(ctx context.Context, c *satCurve) error {
	fl, addr, err := b.startFloor()
	if err != nil {
		return err
	}
	defer fl.stop()
	specs := make([]streamSpec, c.clients)
	for i := range specs {
		specs[i] = floorStream(i % b.cfg.namespaces)
	}
	return b.satSSE(ctx, c, addr, specs, fl.pid(), func() {})
}

// satSSE connects SSE clients to addr and climbs.
func (b *bench) satSSE(ctx context.Context, c *satCurve, addr string, specs []streamSpec, pid int, drained func()) error {
	fleet := newFleet(addr)
	defer func() { fleet.closeAll(); drained() }()
	took, err := fleet.open(ctx, specs, 256, nil)
	if err != nil {
		return err
	}
	c.note = fmt.Sprintf("%d/%d connected in %s", fleet.admitted.Load(), c.clients, took.Round(time.Millisecond)) + refusedNote(fleet)
	time.Sleep(b.cfg.settle)
	return b.climb(ctx, c, fleet.cur.Store, fleet.readersPerNS(b.cfg.namespaces), pid, fleet.dropped.Load)
}

func (b *bench) satPeer(ctx context.Context, c *satCurve) error {
	specs := make([]streamSpec, c.clients)
	for i := range specs {
		specs[i] = nsStream(i%b.cfg.namespaces, b.viewers[i%len(b.viewers)])
	}
	wf := newWatchFleet(false)
	defer wf.closeAll()
	took, err := wf.open(ctx, b.cl.cfg, specs, 256)
	if err != nil {
		return err
	}
	c.note = fmt.Sprintf("%d watches, one TLS connection each, opened in %s", wf.started.Load(), took.Round(time.Millisecond))
	time.Sleep(min(2*time.Second, 4*b.cfg.settle)) // initial ADDED events
	readers := make([]int, b.cfg.namespaces)
	for _, s := range specs {
		readers[s.ns]++
	}
	return b.climb(ctx, c, wf.cur.Store, readers, b.cl.apiPID, wf.ended.Load)
}
