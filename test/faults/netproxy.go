package faults

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections to its upstreams, round robin, skipping
// any that refuse: what a Service does for its Pods. Partition stops every
// byte in both directions without closing anything, as a network partition
// does (peers see silence, not resets); Heal lets the held bytes through.
type Proxy struct {
	ln        net.Listener
	upstreams []string

	mu    sync.Mutex
	next  int
	open  chan struct{} // closed while traffic flows
	conns map[net.Conn]struct{}
	// accepted counts client connections since the start.
	accepted int
	closed   bool
	wg       sync.WaitGroup
}

// dialTimeout is how long the proxy tries one upstream.
const dialTimeout = 2 * time.Second

// NewProxy listens on a free loopback port.
func NewProxy(upstreams ...string) (*Proxy, error) {
	if len(upstreams) == 0 {
		return nil, errors.New("a proxy needs at least one upstream")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, upstreams: upstreams, open: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.open)
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted is how many connections clients opened through the proxy.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Partition holds all traffic until Heal; new connections are accepted
// and then hang, as SYNs into a black hole would from far away.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

// Heal lets traffic flow again, the held bytes first.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// Close stops listening and cuts every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.Heal()
	p.wg.Wait()
}

// flowing returns a channel that is closed while traffic may flow.
func (p *Proxy) flowing() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.mu.Lock()
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) handle(down net.Conn) {
	defer p.wg.Done()
	defer p.untrack(down)
	<-p.flowing()
	if p.isClosed() {
		return
	}
	up := p.dial()
	if up == nil || !p.track(up) {
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.pipe(up, down); done <- struct{}{} }()
	go func() { defer p.wg.Done(); p.pipe(down, up); done <- struct{}{} }()
	<-done // one side ended: end both, as a TCP proxy would, but
	// a FIN crosses a partition no better than data does.
	<-p.flowing()
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// dial tries each upstream once, starting after the last one used.
func (p *Proxy) dial() net.Conn {
	p.mu.Lock()
	start := p.next
	p.next++
	p.mu.Unlock()
	for i := range p.upstreams {
		addr := p.upstreams[(start+i)%len(p.upstreams)]
		if c, err := net.DialTimeout("tcp", addr, dialTimeout); err == nil {
			return c
		}
	}
	return nil
}

// pipe copies src to dst, holding each chunk while partitioned.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.flowing()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or a cut connection alike
			return
		}
	}
}
