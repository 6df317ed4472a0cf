package sso

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSealOpensOnlyWhatItSealedForThatPurposeInTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	key := []byte(strings.Repeat("k", MinSessionKeyBytes))
	s, err := newSealer(key, clock)
	if err != nil {
		t.Fatal(err)
	}
	sameKey, _ := newSealer(key, clock)
	otherKey, _ := newSealer([]byte(strings.Repeat("o", MinSessionKeyBytes)), clock)
	sealed, err := s.seal("cast_sso", "token", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1

	cases := []struct {
		name    string
		opener  *sealer
		purpose string
		value   string
		at      time.Time
		ok      bool
	}{
		{name: "same process", opener: s, purpose: "cast_sso", value: sealed, at: now, ok: true},
		{name: "another replica with the same key", opener: sameKey, purpose: "cast_sso", value: sealed, at: now, ok: true},
		{name: "another key", opener: otherKey, purpose: "cast_sso", value: sealed, at: now},
		{name: "another purpose", opener: s, purpose: "cast_sso_flow", value: sealed, at: now},
		{name: "expired", opener: s, purpose: "cast_sso", value: sealed, at: now.Add(time.Minute)},
		{name: "tampered", opener: s, purpose: "cast_sso", value: string(tampered), at: now},
		{name: "not base64", opener: s, purpose: "cast_sso", value: "%%%", at: now},
		{name: "too short", opener: s, purpose: "cast_sso", value: "AAAA", at: now},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			var got string
			err := tc.opener.open(tc.purpose, tc.value, &got)
			if tc.ok && (err != nil || got != "token") {
				t.Fatalf("open = %q, %v; want the sealed value", got, err)
			}
			if !tc.ok && !errors.Is(err, errSealed) {
				t.Fatalf("open = %q, %v; want errSealed", got, err)
			}
		})
	}
}

func TestSealerWantsAKeyLongEnough(t *testing.T) {
	if _, err := newSealer([]byte("short"), nil); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("a 5-byte key: %v, want an error naming the minimum", err)
	}
	a, _ := newSealer(nil, nil)
	b, _ := newSealer(nil, nil)
	sealed, _ := a.seal("p", 1, time.Now().Add(time.Minute))
	var v int
	if err := b.open("p", sealed, &v); err == nil {
		t.Fatal("two processes without a key file share a random key")
	}
}
