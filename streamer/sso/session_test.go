package sso_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/streamer/sso"
	"github.com/spell-platform/cast-operator/test/ssotest"
)

func TestSessionEndIsTheEarlierOfTheIDTokensExpiryAndMaxSessionAge(t *testing.T) {
	since := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	bound := since.Add(sso.MaxSessionAge)
	cases := []struct {
		name string
		tok  sso.Tokens
		want time.Time
	}{
		{name: "the ID token expires first", tok: sso.Tokens{Since: since, Expiry: since.Add(time.Hour)}, want: since.Add(time.Hour)},
		{name: "a refreshed token expires first", tok: sso.Tokens{Since: since, Expiry: bound.Add(-time.Minute)}, want: bound.Add(-time.Minute)},
		{name: "a 24-hour ID token (Dex)", tok: sso.Tokens{Since: since, Expiry: since.Add(24 * time.Hour)}, want: bound},
		{name: "a token refreshed late in the session", tok: sso.Tokens{Since: since, Expiry: bound.Add(time.Hour)}, want: bound},
		{name: "sign-in time unknown", tok: sso.Tokens{Expiry: since.Add(time.Hour)}, want: since.Add(time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.SessionEnd(); !got.Equal(tc.want) {
				t.Fatalf("SessionEnd = %s, want %s", got, tc.want)
			}
		})
	}
}

// A provider whose ID tokens live longer than MaxSessionAge (Dex: 24h)
// must not keep a session beyond it: neither the cookie nor what it seals.
func TestSessionCookieEndsMaxSessionAgeAfterSignIn(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	p := newProvider(t, ssotest.Options{TokenTTL: 24 * time.Hour})
	c := newClient(t, p, func(o *sso.Options) { o.Now = clock })
	_, cookies := signIn(t, c, p)
	end := now.Add(sso.MaxSessionAge)
	sc := cookieNamed(cookies, sso.SessionCookieName)
	if !sc.Expires.Equal(end.UTC()) || sc.MaxAge != int(sso.MaxSessionAge.Seconds()) {
		t.Fatalf("session cookie expires %s (Max-Age %d), want %s, %s after the sign-in, not with the 24-hour ID token",
			sc.Expires, sc.MaxAge, end.UTC(), sso.MaxSessionAge)
	}
	sessionReq := func() *http.Request { return request(home+"/api/v1/session", sc) }

	now = end.Add(-time.Minute)
	if got, ok := c.SessionFrom(sessionReq()); !ok || !got.Expiry.Equal(end) {
		t.Fatalf("SessionFrom a minute before the end = %+v, %v; want the session, ending at %s", got, ok, end)
	}
	now = end
	if _, ok := c.SessionFrom(sessionReq()); ok {
		t.Fatalf("a cookie kept past its expiry still opens %s after the sign-in", sso.MaxSessionAge)
	}
}
