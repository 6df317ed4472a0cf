package client

import (
	"net/http"
	"strconv"
	"time"
)

// backoff is how long to wait before reconnection attempt number attempt
// (0 for the first retry): a uniformly random share rnd ∈ [0, 1) of an
// exponentially growing ceiling ("full jitter"). The randomness spreads
// the clients that one streamer restart disconnects all at once, so they
// do not come back in lockstep; the ceiling stops a long outage from
// turning into hour-long waits.
func backoff(attempt int, initial, maxWait time.Duration, rnd float64) time.Duration {
	if initial <= 0 || maxWait <= 0 {
		return 0
	}
	ceiling := initial
	for i := 0; i < attempt && ceiling < maxWait; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, maxWait)
	switch {
	case rnd <= 0:
		return 0
	case rnd >= 1:
		return ceiling
	}
	return time.Duration(rnd * float64(ceiling))
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date,
// relative to now; 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
