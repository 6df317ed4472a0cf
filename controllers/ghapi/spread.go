package ghapi

import (
	"time"

	"golang.org/x/time/rate"
)

// spread paces background calls of one credential so what is left above
// the reserve lasts until the reset. A caller that must wait gets a time
// of its own, kept for it (by request URL) until it comes back, so callers
// refused together do not all return at the same instant and a late one
// is not starved by newcomers.
type spread struct {
	limiter *rate.Limiter
	slots   map[string]time.Time
}

// maxSpreadSlots bounds the kept times; past it they are forgotten and
// their callers queue again.
const maxSpreadSlots = 10000

func newSpread() spread {
	return spread{limiter: rate.NewLimiter(rate.Inf, 1), slots: map[string]time.Time{}}
}

// retune sets the pace for left calls until the reset; fill starts a new
// window with a full bucket. A quarter of what is left may go at once, so
// a round of resyncs after a quiet spell (a thousand Casts attached at
// once) is not drawn out.
func (s *spread) retune(left int, until time.Duration, now time.Time, fill bool) {
	if left <= 0 || until <= 0 {
		// The reserve check refuses background calls by itself.
		return
	}
	limit, burst := rate.Limit(float64(left)/until.Seconds()), max(left/4, 1)
	if fill {
		s.limiter = rate.NewLimiter(limit, burst)
		clear(s.slots)
		return
	}
	s.limiter.SetLimitAt(now, limit)
	s.limiter.SetBurstAt(now, burst)
}

// take returns how long the call for key must wait; 0 means go now.
func (s *spread) take(key string, now time.Time) time.Duration {
	if at, ok := s.slots[key]; ok {
		if !now.Before(at) {
			delete(s.slots, key)
			return 0
		}
		return at.Sub(now)
	}
	r := s.limiter.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute
	}
	wait := r.DelayFrom(now)
	if wait <= 0 {
		return 0
	}
	if len(s.slots) >= maxSpreadSlots {
		clear(s.slots)
	}
	s.slots[key] = now.Add(wait)
	return wait
}

// charge counts a call that went without waiting its turn (a conditional
// read GitHub answered in full) against what the pace has to spare, never
// into debt: a debt would make the next plain read wait for everybody's
// past reads, however healthy the budget (the reserve bounds the rest).
func (s *spread) charge(now time.Time) {
	s.limiter.AllowN(now, 1)
}
