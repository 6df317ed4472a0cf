// Package admission decides whether a caller may start a request or a
// stream now: per-user and per-address rate buckets, per-user stream
// slots, and which address a request came from. It sits between
// authentication (who is asking) and authorization (may they read this),
// and keeps every replica's costs bounded whoever asks.
package admission

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults for LimitOptions. A dashboard opens a handful of streams and
// reconnects now and then; these leave it ample room while keeping one
// runaway client from costing the API server and the streamer much.
const (
	defaultMaxStreams = 10
	defaultUserBurst  = 20
	defaultIPBurst    = 5
	defaultMaxTracked = 100_000
)

var (
	defaultUserRate = rate.Every(time.Minute / 100) // 100 per minute
	defaultIPRate   = rate.Every(time.Minute / 20)  // 20 per minute
)

// LimitOptions configures NewLimiter; zero values mean the defaults.
type LimitOptions struct {
	// MaxStreamsPerUser caps concurrent streams per user name, so one
	// identity cannot hold all of a replica's connections. Default 10.
	MaxStreamsPerUser int
	// UserRate and UserBurst limit new requests per authenticated user
	// (a token bucket): default 100 per minute, with bursts of 20 so a
	// dashboard opening all its panels at once is not refused. rate.Inf
	// turns the limit off.
	UserRate  rate.Limit
	UserBurst int
	// IPRate and IPBurst limit requests that carry no valid token, per
	// client IP, so guessing tokens or flooding TokenReview through the
	// streamer is slow: default 20 per minute, bursts of 5. IPv6 clients
	// are limited per /64, since one host usually owns a whole /64.
	// rate.Inf turns the limit off.
	IPRate  rate.Limit
	IPBurst int
	// MaxTracked bounds how many users, and separately how many IPs, have
	// a remembered bucket; the least recently seen is forgotten first.
	// Forgetting an idle bucket loses nothing (it would be full again).
	// Default 100000.
	MaxTracked int
}

// Limiter enforces LimitOptions for one streamer replica. Limits are per
// replica, not cluster-wide: N replicas allow up to N times as much.
type Limiter struct {
	maxStreams int
	users      *bucketSet
	ips        *bucketSet
	now        func() time.Time

	mu      sync.Mutex
	streams map[string]int
}

// NewLimiter returns a Limiter with opts' zero values replaced by the
// defaults.
func NewLimiter(opts LimitOptions) *Limiter {
	if opts.MaxStreamsPerUser <= 0 {
		opts.MaxStreamsPerUser = defaultMaxStreams
	}
	if opts.UserRate <= 0 {
		opts.UserRate = defaultUserRate
	}
	if opts.UserBurst <= 0 {
		opts.UserBurst = defaultUserBurst
	}
	if opts.IPRate <= 0 {
		opts.IPRate = defaultIPRate
	}
	if opts.IPBurst <= 0 {
		opts.IPBurst = defaultIPBurst
	}
	if opts.MaxTracked <= 0 {
		opts.MaxTracked = defaultMaxTracked
	}
	return &Limiter{
		maxStreams: opts.MaxStreamsPerUser,
		users:      newBucketSet(opts.UserRate, opts.UserBurst, opts.MaxTracked),
		ips:        newBucketSet(opts.IPRate, opts.IPBurst, opts.MaxTracked),
		now:        time.Now,
		streams:    map[string]int{},
	}
}

// AllowUser consumes one request from the user's bucket. When refused,
// retryAfter (whole seconds, at least 1s) is what to put in Retry-After.
func (l *Limiter) AllowUser(name string) (ok bool, retryAfter time.Duration) {
	return l.users.allow(name, l.now())
}

// AllowIP consumes one request from the client IP's bucket; use it for
// requests without a valid token. When refused, retryAfter (whole
// seconds, at least 1s) is what to put in Retry-After.
func (l *Limiter) AllowIP(ip string) (ok bool, retryAfter time.Duration) {
	return l.ips.allow(ipKey(ip), l.now())
}

// IPAllowsAttempt reports, without consuming anything, whether the client
// IP has budget left. It lets a server count only failed attempts against
// an IP (AllowIP on failure) yet refuse an exhausted IP before its next
// token costs a TokenReview.
func (l *Limiter) IPAllowsAttempt(ip string) bool {
	return l.ips.wait(ipKey(ip), l.now()) == 0
}

// IPRetryAfter is when an IP refused by IPAllowsAttempt may try again:
// whole seconds, at least 1s, or 0 when it may try now.
func (l *Limiter) IPRetryAfter(ip string) time.Duration {
	return l.ips.wait(ipKey(ip), l.now())
}

// AcquireStream reserves one of the user's stream slots. release frees it
// and may be called any number of times (only the first counts), so a
// handler can simply defer it; after a refusal it does nothing.
func (l *Limiter) AcquireStream(name string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams[name] >= l.maxStreams {
		return func() {}, false
	}
	l.streams[name]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.streams[name]--; l.streams[name] <= 0 {
				delete(l.streams, name) // users with no streams cost no memory
			}
		})
	}, true
}

// OpenStreams returns the user's open streams, for metrics and tests.
func (l *Limiter) OpenStreams(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.streams[name]
}

// MaxStreams is how many streams one user may hold open at once.
func (l *Limiter) MaxStreams() int {
	return l.maxStreams
}

// bucketSet is a bounded LRU of token buckets, one per key.
type bucketSet struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     *list.List // front: most recently used; values are *bucket
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newBucketSet(limit rate.Limit, burst, maxTracked int) *bucketSet {
	return &bucketSet{limit: limit, burst: burst, max: maxTracked, entries: map[string]*list.Element{}, lru: list.New()}
}

func (s *bucketSet) allow(key string, now time.Time) (bool, time.Duration) {
	if s.limit == rate.Inf {
		return true, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lim := s.get(key)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return true, 0
	}
	// Refused: give the token back so waiting clients are not penalised
	// for having asked.
	r.CancelAt(now)
	return false, wholeSeconds(delay)
}

// wait is how long until key's bucket holds a token, rounded up to whole
// seconds; 0 when it holds one now. Unknown keys are not added.
func (s *bucketSet) wait(key string, now time.Time) time.Duration {
	if s.limit == rate.Inf {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[key]
	if !ok {
		return 0
	}
	missing := 1 - el.Value.(*bucket).lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return wholeSeconds(time.Duration(missing / float64(s.limit) * float64(time.Second)))
}

func (s *bucketSet) get(key string) *rate.Limiter {
	if el, ok := s.entries[key]; ok {
		s.lru.MoveToFront(el)
		return el.Value.(*bucket).lim
	}
	for s.lru.Len() >= s.max {
		oldest := s.lru.Back()
		s.lru.Remove(oldest)
		delete(s.entries, oldest.Value.(*bucket).key)
	}
	b := &bucket{key: key, lim: rate.NewLimiter(s.limit, s.burst)}
	s.entries[key] = s.lru.PushFront(b)
	return b.lim
}

func (s *bucketSet) tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// wholeSeconds rounds up, because Retry-After counts whole seconds and a
// client retrying early would only be refused again.
func wholeSeconds(d time.Duration) time.Duration {
	secs := (d + time.Second - 1) / time.Second
	return max(secs, 1) * time.Second
}

// ipKey groups IPv6 addresses by /64; anything unparsable is its own key.
func ipKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		return netip.PrefixFrom(addr.WithZone(""), 64).Masked().String()
	}
	return addr.String()
}
