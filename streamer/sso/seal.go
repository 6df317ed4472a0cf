package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MinSessionKeyBytes is the least secret a session key file may hold: the
// key is derived from it, so it must be as hard to guess as the AES key.
const MinSessionKeyBytes = 32

// errSealed covers every way a sealed value can fail to open (tampered,
// sealed with another key or for another purpose, expired, garbage): the
// caller treats them all as "no such cookie".
var errSealed = errors.New("sealed value not accepted")

// sealer encrypts and authenticates cookie values with AES-256-GCM, so a
// token in a cookie is unreadable and unforgeable outside the streamer
// replicas that share the key: disk, backups or a browser extension with
// cookie access see ciphertext, and a cookie cannot be edited or moved
// from one purpose (a sign-in in flight) to another (a session).
type sealer struct {
	aead cipher.AEAD
	now  func() time.Time
}

// newSealer derives the AES key from secret with HKDF-SHA256; an empty
// secret means a random key, good for this process only.
func newSealer(secret []byte, now func() time.Time) (*sealer, error) {
	if len(secret) == 0 {
		secret = make([]byte, MinSessionKeyBytes)
		_, _ = rand.Read(secret) // never fails (crypto/rand)
	}
	if len(secret) < MinSessionKeyBytes {
		return nil, fmt.Errorf("the session key has %d bytes, want at least %d", len(secret), MinSessionKeyBytes)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "cast-streamer session cookies v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the session key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating the session cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating the session cipher: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &sealer{aead: aead, now: now}, nil
}

// envelope is what is sealed: the value and when it stops opening.
type envelope struct {
	Expires int64           `json:"exp"`
	Value   json.RawMessage `json:"v"`
}

// seal encrypts v for purpose (the cookie's name, bound as additional
// data) until expires; the result is cookie-safe (base64url).
func (s *sealer) seal(purpose string, v any, expires time.Time) (string, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding the %s cookie: %w", purpose, err)
	}
	plain, err := json.Marshal(envelope{Expires: expires.Unix(), Value: value})
	if err != nil {
		return "", fmt.Errorf("encoding the %s cookie: %w", purpose, err)
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

// open decrypts a value sealed for purpose into v; errSealed unless it is
// authentic, for this purpose, and not expired.
func (s *sealer) open(purpose, sealed string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return errSealed
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(purpose))
	if err != nil {
		return errSealed
	}
	var env envelope
	if err := json.Unmarshal(plain, &env); err != nil || !s.now().Before(time.Unix(env.Expires, 0)) {
		return errSealed
	}
	if err := json.Unmarshal(env.Value, v); err != nil {
		return errSealed
	}
	return nil
}
