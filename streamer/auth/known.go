package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"time"

	utilcache "k8s.io/apimachinery/pkg/util/cache"
)

// Bounds of the known-token memory. An hour covers a dashboard's whole
// session of 5-minute streams, far beyond the token cache's 10s, and a
// hundred thousand 32-byte keys is a few MiB at most.
const (
	knownTokenTTL  = time.Hour
	maxKnownTokens = 100_000
)

// knownTokens remembers which tokens the API server accepted recently,
// keyed by an HMAC of the token under a per-process random key, so the
// tokens themselves are never stored. It is not a credential cache: a
// known token is still authenticated (token cache, then TokenReview). It
// only tells the per-address limit that this token is not one of the
// made-up ones it exists to slow down, so a valid user behind a NAT, an
// ingress or next to a stale browser tab is not refused for what others
// at that address sent.
type knownTokens struct {
	key   []byte
	cache *utilcache.LRUExpireCache
}

func newKnownTokens() *knownTokens {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails: crypto/rand crashes the program instead
	return &knownTokens{key: key, cache: utilcache.NewLRUExpireCache(maxKnownTokens)}
}

func (k *knownTokens) hash(token string) [sha256.Size]byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(token))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// remember records an accepted token until it expires (expiresAt, zero
// when unknown), and never longer than knownTokenTTL after its last
// acceptance.
func (k *knownTokens) remember(token string, now, expiresAt time.Time) {
	ttl := knownTokenTTL
	if !expiresAt.IsZero() {
		ttl = min(ttl, expiresAt.Sub(now))
	}
	if ttl > 0 {
		k.cache.Add(k.hash(token), struct{}{}, ttl)
	}
}

// forget drops a token the API server no longer accepts, so it counts
// against its address again like any other bad token.
func (k *knownTokens) forget(token string) {
	k.cache.Remove(k.hash(token))
}

func (k *knownTokens) known(token string) bool {
	_, ok := k.cache.Get(k.hash(token))
	return ok
}
