package admission

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// fakeClock lets rate tests move time instead of sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(opts LimitOptions) (*Limiter, *fakeClock) {
	l := NewLimiter(opts)
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = clock.now
	return l, clock
}

func TestStreamSlots(t *testing.T) {
	l := NewLimiter(LimitOptions{})
	var releases []func()
	for i := range 10 {
		release, ok := l.AcquireStream("alice")
		if !ok {
			t.Fatalf("stream %d refused, want 10 allowed by default", i+1)
		}
		releases = append(releases, release)
	}
	if _, ok := l.AcquireStream("alice"); ok {
		t.Fatal("11th stream allowed")
	}
	if got := l.OpenStreams("alice"); got != 10 {
		t.Fatalf("OpenStreams = %d, want 10", got)
	}
	if _, ok := l.AcquireStream("bob"); !ok {
		t.Fatal("bob refused because of alice's streams")
	}

	releases[0]()
	releases[0]() // double release must not free a second slot
	if got := l.OpenStreams("alice"); got != 9 {
		t.Fatalf("OpenStreams after double release = %d, want 9", got)
	}
	release, ok := l.AcquireStream("alice")
	if !ok {
		t.Fatal("released slot not reusable")
	}
	if _, ok := l.AcquireStream("alice"); ok {
		t.Fatal("double release freed two slots")
	}
	release()
	for _, r := range releases[1:] {
		r()
	}
	if got := l.OpenStreams("alice"); got != 0 {
		t.Fatalf("OpenStreams after all released = %d, want 0", got)
	}
	if _, tracked := l.streams["alice"]; tracked {
		t.Error("a user without streams is still tracked")
	}
}

func TestStreamSlotsConfigured(t *testing.T) {
	l := NewLimiter(LimitOptions{MaxStreamsPerUser: 2})
	_, ok1 := l.AcquireStream("u")
	_, ok2 := l.AcquireStream("u")
	refusedRelease, ok3 := l.AcquireStream("u")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquired %v %v %v, want true true false", ok1, ok2, ok3)
	}
	refusedRelease() // a refused acquisition's release is harmless
	if got := l.OpenStreams("u"); got != 2 {
		t.Fatalf("OpenStreams = %d, want 2", got)
	}
}

func TestAllowUserBurstThenRefuse(t *testing.T) {
	l, clock := newTestLimiter(LimitOptions{})
	for i := range 20 {
		if ok, _ := l.AllowUser("alice"); !ok {
			t.Fatalf("request %d refused within the default burst of 20", i+1)
		}
	}
	ok, retry := l.AllowUser("alice")
	if ok {
		t.Fatal("21st request allowed")
	}
	// 100 per minute refills one token every 600ms: Retry-After 1s.
	if retry != time.Second {
		t.Errorf("retryAfter = %v, want 1s", retry)
	}
	if ok, _ := l.AllowUser("bob"); !ok {
		t.Error("bob refused because of alice")
	}
	clock.advance(retry)
	if ok, _ := l.AllowUser("alice"); !ok {
		t.Error("refused after waiting Retry-After")
	}
}

func TestAllowIPBurstThenRefuse(t *testing.T) {
	l, clock := newTestLimiter(LimitOptions{})
	for i := range 5 {
		if ok, _ := l.AllowIP("192.0.2.1"); !ok {
			t.Fatalf("request %d refused within the default burst of 5", i+1)
		}
	}
	ok, retry := l.AllowIP("192.0.2.1")
	if ok {
		t.Fatal("6th request allowed")
	}
	// 20 per minute refills one token every 3s.
	if retry != 3*time.Second {
		t.Errorf("retryAfter = %v, want 3s", retry)
	}
	// Refused requests do not push the wait further out.
	if _, again := l.AllowIP("192.0.2.1"); again != retry {
		t.Errorf("second refusal retryAfter = %v, want %v", again, retry)
	}
	if ok, _ := l.AllowIP("192.0.2.2"); !ok {
		t.Error("another IP refused")
	}
	clock.advance(retry - time.Millisecond)
	if ok, _ := l.AllowIP("192.0.2.1"); ok {
		t.Error("allowed before Retry-After passed")
	}
	clock.advance(time.Millisecond)
	if ok, _ := l.AllowIP("192.0.2.1"); !ok {
		t.Error("refused after Retry-After passed")
	}
}

func TestIPAllowsAttemptDoesNotConsume(t *testing.T) {
	l, clock := newTestLimiter(LimitOptions{IPBurst: 2})
	for range 10 {
		if !l.IPAllowsAttempt("192.0.2.1") || l.IPRetryAfter("192.0.2.1") != 0 {
			t.Fatal("an IP with budget is refused")
		}
	}
	if got := l.ips.tracked(); got != 0 {
		t.Errorf("peeking tracked %d IPs, want 0", got)
	}
	l.AllowIP("192.0.2.1")
	if !l.IPAllowsAttempt("192.0.2.1") {
		t.Fatal("refused with one token left")
	}
	l.AllowIP("192.0.2.1")
	if l.IPAllowsAttempt("192.0.2.1") {
		t.Fatal("allowed with the bucket empty")
	}
	if got := l.IPRetryAfter("192.0.2.1"); got != 3*time.Second {
		t.Errorf("IPRetryAfter = %v, want 3s (20 per minute)", got)
	}
	if !l.IPAllowsAttempt("2001:db8::1") || !l.IPAllowsAttempt("192.0.2.2") {
		t.Error("other IPs refused")
	}
	clock.advance(time.Second)
	if got := l.IPRetryAfter("192.0.2.1"); got != 2*time.Second {
		t.Errorf("IPRetryAfter after 1s = %v, want 2s", got)
	}
	clock.advance(2 * time.Second)
	if !l.IPAllowsAttempt("192.0.2.1") {
		t.Error("still refused after the wait")
	}
}

func TestRetryAfterIsWholeSecondsAtLeastOne(t *testing.T) {
	l, _ := newTestLimiter(LimitOptions{UserRate: rate.Every(2500 * time.Millisecond), UserBurst: 1, IPRate: 1000, IPBurst: 1})
	l.AllowUser("u")
	if _, retry := l.AllowUser("u"); retry != 3*time.Second {
		t.Errorf("retryAfter = %v, want 2.5s rounded up to 3s", retry)
	}
	l.AllowIP("192.0.2.1")
	if ok, retry := l.AllowIP("192.0.2.1"); ok || retry != time.Second {
		t.Errorf("(ok, retryAfter) = (%v, %v), want a 1ms wait reported as 1s", ok, retry)
	}
	for want, in := range map[time.Duration]time.Duration{time.Second: time.Nanosecond, 2 * time.Second: 1001 * time.Millisecond, 5 * time.Second: 5 * time.Second} {
		if got := wholeSeconds(in); got != want {
			t.Errorf("wholeSeconds(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestUnlimitedRates(t *testing.T) {
	l, _ := newTestLimiter(LimitOptions{UserRate: rate.Inf, IPRate: rate.Inf})
	for range 1000 {
		if ok, _ := l.AllowUser("u"); !ok {
			t.Fatal("rate.Inf refused a user")
		}
		if ok, _ := l.AllowIP("192.0.2.1"); !ok {
			t.Fatal("rate.Inf refused an IP")
		}
	}
	if l.users.tracked() != 0 || l.ips.tracked() != 0 {
		t.Error("unlimited keys are tracked")
	}
}

func TestTrackingIsBounded(t *testing.T) {
	l, _ := newTestLimiter(LimitOptions{UserBurst: 1, IPBurst: 1, MaxTracked: 3})
	for i := range 10 {
		l.AllowUser(fmt.Sprintf("user-%d", i))
		l.AllowIP(fmt.Sprintf("192.0.2.%d", i))
	}
	if got := l.users.tracked(); got != 3 {
		t.Errorf("tracked users = %d, want 3", got)
	}
	if got := l.ips.tracked(); got != 3 {
		t.Errorf("tracked IPs = %d, want 3", got)
	}
	// The most recently seen keep their (empty) buckets...
	if ok, _ := l.AllowUser("user-9"); ok {
		t.Error("user-9 was forgotten though recently seen")
	}
	// ...the least recently seen were forgotten.
	if ok, _ := l.AllowUser("user-0"); !ok {
		t.Error("user-0 still tracked beyond MaxTracked")
	}
	if got := l.users.tracked(); got != 3 {
		t.Errorf("tracked users = %d, want 3", got)
	}
}

func TestIPv6LimitedPerSlash64(t *testing.T) {
	l, _ := newTestLimiter(LimitOptions{IPBurst: 1})
	if ok, _ := l.AllowIP("2001:db8:1:2::1"); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := l.AllowIP("2001:db8:1:2:ffff::9"); ok {
		t.Error("another address in the same /64 has its own bucket")
	}
	if ok, _ := l.AllowIP("2001:db8:1:3::1"); !ok {
		t.Error("another /64 shares the bucket")
	}
	if ok, _ := l.AllowIP("::ffff:192.0.2.7"); !ok {
		t.Fatal("mapped IPv4 refused")
	}
	if ok, _ := l.AllowIP("192.0.2.7"); ok {
		t.Error("IPv4-mapped and plain IPv4 have separate buckets")
	}
}
