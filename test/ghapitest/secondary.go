package ghapitest

import (
	"net/http"
	"time"
)

// secondary-limit defaults, GitHub's documented figures.
const (
	defaultPerMinute   = 80  // content-creating requests per minute
	defaultPerHour     = 500 // content-creating requests per hour
	defaultMaxInFlight = 100 // concurrent requests per identity
)

// patternAccessTokens is the mux pattern of the endpoint that mints
// installation tokens.
const patternAccessTokens = "POST /app/installations/{id}/access_tokens"

// isContentCreating reports whether GitHub meters r under the secondary
// limit on content creation. Minting installation tokens is not content.
func isContentCreating(r *http.Request, pattern string) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return pattern != patternAccessTokens
	}
	return false
}

// secondaryLimitedLocked reports whether admitting one more request (a
// content-creating one if write) would break the identity's secondary
// limits. Only admitted writes are remembered, so rejected ones do not
// prolong the wait.
func (s *Server) secondaryLimitedLocked(b *book, write bool) bool {
	if s.maxInFlight > 0 && b.inFlight >= s.maxInFlight {
		return true
	}
	if !write {
		return false
	}
	now := s.nowLocked()
	i := 0
	for i < len(b.writes) && !b.writes[i].After(now.Add(-time.Hour)) {
		i++
	}
	b.writes = b.writes[i:]
	if s.perHour > 0 && len(b.writes) >= s.perHour {
		return true
	}
	lastMinute := 0
	for j := len(b.writes) - 1; j >= 0 && b.writes[j].After(now.Add(-time.Minute)); j-- {
		lastMinute++
	}
	return s.perMinute > 0 && lastMinute >= s.perMinute
}

func secondaryLimitMessage(requestID string) string {
	return "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
		"If you reach out to GitHub Support for help, please include the request ID " + requestID + "."
}

// SetSecondaryLimits sets how many content-creating requests (POST, PATCH,
// PUT, DELETE) one identity may make in any trailing minute and hour before
// getting GitHub's secondary-limit 403 with Retry-After; the defaults are
// GitHub's 80 and 500. n <= 0 lifts that limit, e.g. for a benchmark that
// measures the operator rather than GitHub's throttling.
func (s *Server) SetSecondaryLimits(perMinute, perHour int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perMinute, s.perHour = perMinute, perHour
}
