package ghapitest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// book is one identity's primary rate-limit window. GitHub keeps one per
// user (token), one per App installation shared by all of its tokens, and
// one per App; the fake keys them by token, "installation:<id>" and
// "app:<id>".
type book struct {
	limit, remaining int
	reset            time.Time
	// gen changes whenever remaining is replaced (a new window or a Set*
	// call), so a refund for a 304 never lands in a different window.
	gen   int
	stats Stats
	// writes are the admitted content-creating requests of the trailing
	// hour, and inFlight the requests being answered, for the secondary
	// limits.
	writes   []time.Time
	inFlight int
}

// rateWindow is how long a primary rate-limit window lasts on GitHub.
const rateWindow = time.Hour

// nowLocked is the fake's clock; tests in this package replace it to walk
// through windows and token expiry without sleeping.
func (s *Server) nowLocked() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// bookLocked returns the identity's book, opening it with the defaults and
// rolling it over to a fresh window once its reset has passed.
func (s *Server) bookLocked(id string) *book {
	now := s.nowLocked()
	b := s.books[id]
	if b == nil {
		b = &book{limit: s.defLimit, remaining: s.defRemaining, reset: s.defReset}
		if b.reset.IsZero() {
			b.reset = now.Add(rateWindow).Truncate(time.Second)
		}
		s.books[id] = b
	}
	if !now.Before(b.reset) {
		b.remaining, b.reset = b.limit, now.Add(rateWindow).Truncate(time.Second)
		b.gen++
	}
	return b
}

// viewLocked is the rate-limit state to report for a request that may have
// no book (a fault answered before authentication): the identity's book if
// it is known, else what a new book would start with.
func (s *Server) viewLocked(id string) (limit, remaining int, reset time.Time) {
	if id != "" {
		b := s.bookLocked(id)
		return b.limit, b.remaining, b.reset
	}
	reset = s.defReset
	if now := s.nowLocked(); reset.IsZero() || !now.Before(reset) {
		return s.defLimit, s.defLimit, now.Add(rateWindow).Truncate(time.Second)
	}
	return s.defLimit, s.defRemaining, reset
}

func setRateHeaders(h http.Header, limit, remaining int, reset time.Time) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(max(0, limit-remaining)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// count adds to the server-wide counters and, when the request has an
// identity, to that identity's.
func (s *Server) countLocked(b *book, f func(*Stats)) {
	f(&s.stats)
	if b != nil {
		f(&b.stats)
	}
}

// primaryLimitMessage is GitHub's wording, which names the kind of
// identity whose budget ran out.
func primaryLimitMessage(id, requestID string) string {
	who := "user ID 1"
	if n, ok := strings.CutPrefix(id, "installation:"); ok {
		who = "installation ID " + n
	} else if n, ok := strings.CutPrefix(id, "app:"); ok {
		who = "app ID " + n
	}
	return "API rate limit exceeded for " + who +
		". If you reach out to GitHub Support for help, please include the request ID " + requestID + "."
}

// SetRateLimit sets the remaining primary budget and its reset for every
// identity seen so far and for every new one, so a test can exhaust "the"
// budget without knowing which token the client uses. When reset passes,
// each book starts a fresh window of its limit.
func (s *Server) SetRateLimit(remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defRemaining, s.defReset = remaining, reset
	for _, b := range s.books {
		b.remaining, b.reset = remaining, reset
		b.gen++
	}
}

// SetRateLimitFor sets one identity's book: identity is a token,
// "installation:<id>" (shared by all of that installation's tokens) or
// "app:<id>" (requests signed with the App's JWT). Other books are left
// alone, to test that one exhausted identity does not stall the others.
func (s *Server) SetRateLimitFor(identity string, limit, remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bookLocked(identity)
	b.limit, b.remaining, b.reset = limit, remaining, reset
	b.gen++
}

// SetRateLimitCap sets the hourly limit of every book, existing and new, to
// make a budget small enough to exhaust in a test: new books start with
// limit, existing ones keep what they have left, at most limit. It undoes
// an earlier SetRateLimit's remaining for new books, so call it first.
func (s *Server) SetRateLimitCap(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defLimit, s.defRemaining = limit, limit
	for _, b := range s.books {
		b.limit, b.remaining = limit, min(b.remaining, limit)
		b.gen++
	}
}

// Stats returns the counters over all requests.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// StatsFor returns the counters of one identity (as in SetRateLimitFor);
// the zero Stats if it never authenticated.
func (s *Server) StatsFor(identity string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.books[identity]; b != nil {
		return b.stats
	}
	return Stats{}
}
