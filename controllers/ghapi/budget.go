package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"
)

// Priority says whether a call may wait for GitHub budget to recover.
// Background calls (resyncs) stretch to fit what is left; essential calls
// (dispatch, cancel, completion) draw on a reserve kept for them.
type Priority int

const (
	// Background is the default for reads: a resync that can run later.
	Background Priority = iota
	// Essential calls finish a user-visible step and use the reserve.
	Essential
)

type priorityKey struct{}

// WithPriority marks the calls made with ctx. Writes are always essential.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// continuation marks the rest of a call already admitted (further pages):
// stopping it halfway would waste what it spent.
func continuation(ctx context.Context) context.Context {
	return WithPriority(ctx, Essential)
}

func priorityOf(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// Budget limits, also the controller's defaults. GitHub documents a
// primary limit per credential (5,000 to 12,500 calls an hour), secondary
// limits on content-creating requests (80 a minute, 500 an hour) and on
// concurrency; the operator stays inside them by itself instead of
// learning them from 403s.
const (
	// MaxInFlight bounds concurrent requests per credential.
	MaxInFlight = 10
	// DefaultWriteInterval spaces content-creating requests evenly at 78 a
	// minute, two under GitHub's 80, so a burst of dispatches never meets
	// the secondary limit and 500 of them take 6.4 minutes.
	DefaultWriteInterval = 60 * time.Second / 78
	// WritesPerMinute and WritesPerHour are GitHub's secondary limits on
	// content-creating requests, the minute one less a margin of two.
	WritesPerMinute = 78
	WritesPerHour   = 500
	// essentialFloor is what even essential calls leave untouched, so
	// requests already in flight cannot drive the credential to zero.
	essentialFloor = 2
	// defaultHold is how long a secondary-limit answer without
	// Retry-After holds the credential; GitHub asks for at least a minute.
	defaultHold = time.Minute
)

// Budget is the shared account of one credential (a token or an App
// installation): every Cast using it draws on the same primary limit, so
// every response updates one view of what is left and when it resets.
type Budget struct {
	// Name labels metrics and messages; it never contains a secret.
	Name string

	slots chan struct{}
	mu    sync.Mutex
	// What GitHub last said; known is false until a response carried
	// rate-limit headers.
	known     bool
	limit     int
	remaining int
	reset     time.Time
	inflight  int
	// holdUntil stops every call after a rate-limit answer.
	holdUntil time.Time
	// background spreads resyncs over what is left until the reset.
	background spread
	writes     writeQueue
	// writing holds the credential's one content-creating request.
	writing chan struct{}
}

func newBudget(name string, writeInterval time.Duration) *Budget {
	if writeInterval <= 0 {
		writeInterval = DefaultWriteInterval
	}
	return &Budget{
		Name:       name,
		slots:      make(chan struct{}, MaxInFlight),
		background: newSpread(),
		writes:     newWriteQueue(writeInterval, WritesPerMinute, WritesPerHour),
		writing:    make(chan struct{}, 1),
	}
}

// LimitError says a call was not sent because the credential's budget or a
// rate-limit hold does not allow it now; RetryAfter tells when to try.
type LimitError struct {
	Credential string
	// Reason is "held" (GitHub asked to wait), "reserve" (what is left is
	// kept for essential calls), "spread" (resyncs stretched to the
	// reset) or "paced" (waiting for a content-creating slot).
	Reason    string
	Wait      time.Duration
	Remaining int
	Reset     time.Time
}

func (e *LimitError) Error() string {
	switch e.Reason {
	case "paced":
		return fmt.Sprintf("GitHub credential %s: next content-creating slot in %s", e.Credential, e.Wait.Round(time.Millisecond))
	case "held":
		return fmt.Sprintf("GitHub credential %s is rate limited; waiting %s", e.Credential, e.Wait.Round(time.Second))
	}
	return fmt.Sprintf("GitHub credential %s has %d calls left until %s; resync delayed %s",
		e.Credential, e.Remaining, e.Reset.UTC().Format(time.Kitchen), e.Wait.Round(time.Second))
}

// Remaining reports what GitHub last said is left, and when it resets;
// ok is false until a response said so.
func (b *Budget) Remaining() (remaining int, reset time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.remaining, b.reset, b.known
}

// reserve is what background calls leave for essential ones: a tenth of
// the limit, enough for hundreds of completions and cancels until the
// reset.
func (b *Budget) reserveLocked() int { return max(b.limit/10, 20) }

// admit lets one call through or says when to try again. conditional
// calls carry an ETag and cost nothing when unchanged, so they skip the
// spreading (and are charged afterwards if they did cost) but not the
// reserve. key names the call for its spread slot.
func (b *Budget) admit(ctx context.Context, p Priority, conditional bool, key string, now time.Time) (func(), error) {
	b.mu.Lock()
	if err := b.refuseLocked(p, conditional, key, now); err != nil {
		b.mu.Unlock()
		budgetDelays.WithLabelValues(b.Name, err.Reason).Inc()
		return nil, err
	}
	b.inflight++
	b.mu.Unlock()
	release := func() {
		b.mu.Lock()
		b.inflight--
		b.mu.Unlock()
	}
	select {
	case b.slots <- struct{}{}:
		return func() { <-b.slots; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// resetSkew keeps a window's account a little past its reset: the
// operator's clock may run ahead of GitHub's.
const resetSkew = 5 * time.Second

func (b *Budget) refuseLocked(p Priority, conditional bool, key string, now time.Time) *LimitError {
	refuse := func(reason string, wait time.Duration) *LimitError {
		return &LimitError{Credential: b.Name, Reason: reason, Wait: max(wait, time.Second), Remaining: b.remaining, Reset: b.reset}
	}
	if now.Before(b.holdUntil) {
		return refuse("held", b.holdUntil.Sub(now))
	}
	if !b.known || !now.Before(b.reset.Add(resetSkew)) {
		return nil
	}
	avail := b.remaining - b.inflight
	switch {
	case avail <= essentialFloor, p == Background && avail <= b.reserveLocked():
		return refuse("reserve", b.reset.Add(resetSkew).Sub(now))
	case p == Background && !conditional:
		if wait := b.background.take(key, now); wait > 0 {
			return refuse("spread", wait)
		}
	}
	return nil
}

// observe updates the account from a response's headers: what is left,
// and holds after a primary or secondary limit answer.
func (b *Budget) observe(resp *http.Response, chargeSpread bool, now time.Time) {
	h := resp.Header
	rem, errRem := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	lim, errLim := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	resetUnix, errReset := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	limited := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests
	secondary := limited && isSecondaryLimit(resp)
	b.mu.Lock()
	defer b.mu.Unlock()
	if chargeSpread && resp.StatusCode == http.StatusOK {
		b.background.charge(now)
	}
	if errRem == nil && errLim == nil && errReset == nil {
		reset := time.Unix(resetUnix, 0)
		switch {
		case !b.known || reset.After(b.reset):
			// A new window, or the first word from GitHub: a full bucket.
			b.remaining, b.limit, b.reset, b.known = rem, lim, reset, true
			b.respreadLocked(now, true)
		case reset.Equal(b.reset):
			// Answers arrive out of order; within a window, less is later.
			b.remaining, b.limit = min(b.remaining, rem), lim
			b.respreadLocked(now, false)
		}
		rateLimitRemaining.WithLabelValues(b.Name).Set(float64(b.remaining))
	}
	if !limited {
		return
	}
	switch after := parseRetryAfter(h.Get("Retry-After")); {
	case after > 0:
		// A secondary limit: the whole credential waits, not one Cast.
		b.holdLocked(now.Add(after))
	case errRem == nil && rem == 0 && errReset == nil:
		b.holdLocked(time.Unix(resetUnix, 0).Add(resetSkew))
	case secondary:
		b.holdLocked(now.Add(defaultHold))
	}
}

func (b *Budget) holdLocked(until time.Time) {
	if until.After(b.holdUntil) {
		b.holdUntil = until
	}
	b.writes.holdUntil(until)
}

// respreadLocked paces background calls so that what is left above the
// reserve lasts until the reset: resyncs stretch instead of running the
// credential dry and freezing every Cast until the reset.
func (b *Budget) respreadLocked(now time.Time, fill bool) {
	b.background.retune(b.remaining-b.reserveLocked(), b.reset.Sub(now), now, fill)
}

// write runs send in the credential's next content-creating slot: one at a
// time, evenly spaced, within GitHub's per-minute and per-hour limits. A
// slot more than a moment away is reserved for key and reported as a
// LimitError, so the caller's worker is free meanwhile and comes back for
// it.
func (b *Budget) write(ctx context.Context, key string, send func() error) error {
	return b.writeIn(ctx, key, false, maxWriteSleep, send)
}

// writeNext is write for the second half of one logical request, such as
// a dispatch repeated without a field an older GitHub refused: it takes
// the next slot ahead of those queued and waits for it in place.
func (b *Budget) writeNext(ctx context.Context, key string, send func() error) error {
	return b.writeIn(ctx, key, true, maxNextSleep, send)
}

func (b *Budget) writeIn(ctx context.Context, key string, front bool, maxSleep time.Duration, send func() error) error {
	now := time.Now()
	b.mu.Lock()
	if now.Before(b.holdUntil) {
		wait := b.holdUntil.Sub(now)
		b.mu.Unlock()
		budgetDelays.WithLabelValues(b.Name, "held").Inc()
		return &LimitError{Credential: b.Name, Reason: "held", Wait: wait}
	}
	wait := b.writes.reserve(key, front, now)
	b.mu.Unlock()
	if wait > maxSleep {
		budgetDelays.WithLabelValues(b.Name, "paced").Inc()
		return &LimitError{Credential: b.Name, Reason: "paced", Wait: wait}
	}
	if wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// One at a time, as GitHub asks; but a request hanging past
	// maxWriteHold is most likely lost and no longer holds the next.
	hold := time.NewTimer(maxWriteHold)
	defer hold.Stop()
	select {
	case b.writing <- struct{}{}:
		defer func() { <-b.writing }()
	case <-hold.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	// A slow predecessor delays its followers; keep them spaced anyway,
	// so no minute ever holds more than GitHub allows. The send time is
	// claimed before waiting for it, so no two writers share one.
	b.mu.Lock()
	at := b.writes.claim(key, time.Now())
	b.mu.Unlock()
	if gap := time.Until(at); gap > 0 {
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := send()
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		// GitHub did not take it: it counts in neither window.
		b.mu.Lock()
		b.writes.unsend(at)
		b.mu.Unlock()
	}
	return err
}

// maxWriteSleep is how long a worker may wait in place for its slot;
// maxNextSleep, for a slot taken ahead of the queue.
const (
	maxWriteSleep = 100 * time.Millisecond
	maxNextSleep  = 5 * time.Second
)

// maxWriteHold is how long a content-creating request may keep the next
// one waiting.
const maxWriteHold = 5 * time.Second
