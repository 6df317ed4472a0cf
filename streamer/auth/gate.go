package auth

import "context"

// DefaultMaxConcurrentReviews bounds the TokenReviews, and separately the
// SubjectAccessReviews, in flight at once. Without a bound, a reconnect
// storm of clients with distinct tokens sends thousands of reviews at once;
// once they exceed the streams kube-apiserver allows on one HTTP/2
// connection, the client dials a new TLS connection for each one waiting,
// and the handshakes cost the streamer hundreds of MiB and kube-apiserver
// its CPU, so fewer clients are admitted, not more. A few dozen reviews in
// flight already keep kube-apiserver busy.
const DefaultMaxConcurrentReviews = 64

// gate is a counting semaphore whose waits honour a context.
type gate chan struct{}

func newGate(n int) gate {
	if n <= 0 {
		n = DefaultMaxConcurrentReviews
	}
	return make(gate, n)
}

// enter waits for a free slot; the caller must leave after a nil error.
func (g gate) enter(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g gate) leave() { <-g }
