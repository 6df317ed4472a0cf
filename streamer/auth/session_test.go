package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSessionCookieAttributes(t *testing.T) {
	expires := time.Now().Add(time.Hour)
	for _, secure := range []bool{true, false} {
		c := SessionCookie("tok.en.value", expires, secure)
		if c.Name != CookieName || c.Value != "tok.en.value" {
			t.Errorf("cookie %s=%s, want %s=tok.en.value", c.Name, c.Value, CookieName)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/api/" || c.Secure != secure {
			t.Errorf("secure=%v: got HttpOnly=%v SameSite=%v Path=%q Secure=%v", secure, c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
		if !c.Expires.Equal(expires.Truncate(0)) {
			t.Errorf("Expires = %v, want %v", c.Expires, expires)
		}
		if c.MaxAge < 3599 || c.MaxAge > 3600 {
			t.Errorf("MaxAge = %d, want about 3600", c.MaxAge)
		}
		header := c.String()
		for _, want := range []string{"cast_session=tok.en.value", "Path=/api/", "HttpOnly", "SameSite=Strict", "Max-Age=", "Expires="} {
			if !strings.Contains(header, want) {
				t.Errorf("Set-Cookie %q lacks %q", header, want)
			}
		}
		if strings.Contains(header, "Secure") != secure {
			t.Errorf("Set-Cookie %q: Secure present = %v, want %v", header, !secure, secure)
		}
	}
}

func TestSessionCookieWithoutExpiryIsASessionCookie(t *testing.T) {
	c := SessionCookie("t", time.Time{}, true)
	if !c.Expires.IsZero() || c.MaxAge != 0 {
		t.Errorf("Expires=%v MaxAge=%d, want neither set", c.Expires, c.MaxAge)
	}
	if h := c.String(); strings.Contains(h, "Expires") || strings.Contains(h, "Max-Age") {
		t.Errorf("Set-Cookie %q should be a session cookie", h)
	}
}

func TestSessionCookieForExpiredTokenIsDeleted(t *testing.T) {
	c := SessionCookie("t", time.Now().Add(-time.Minute), true)
	if c.MaxAge >= 0 || !strings.Contains(c.String(), "Max-Age=0") {
		t.Errorf("MaxAge=%d (%q), want the browser told to drop it", c.MaxAge, c.String())
	}
}

func TestClearSessionCookie(t *testing.T) {
	for _, secure := range []bool{true, false} {
		c := ClearSessionCookie(secure)
		set := SessionCookie("x", time.Time{}, secure)
		if c.Name != set.Name || c.Path != set.Path || c.HttpOnly != set.HttpOnly || c.SameSite != set.SameSite || c.Secure != set.Secure {
			t.Errorf("clear cookie %+v does not match session cookie %+v", c, set)
		}
		if c.Value != "" || c.MaxAge >= 0 || !c.Expires.Before(time.Now()) {
			t.Errorf("clear cookie Value=%q MaxAge=%d Expires=%v, want empty and expired", c.Value, c.MaxAge, c.Expires)
		}
		if h := c.String(); !strings.Contains(h, "Max-Age=0") || !strings.Contains(h, "Expires=Thu, 01 Jan 1970") {
			t.Errorf("Set-Cookie %q does not expire the cookie", h)
		}
	}
}

func TestTokenFrom(t *testing.T) {
	cookie := &http.Cookie{Name: CookieName, Value: "from-cookie"}
	cases := []struct {
		name       string
		auth       []string
		cookie     *http.Cookie
		token      string
		fromCookie bool
		ok         bool
	}{
		{name: "bearer", auth: []string{"Bearer abc.def"}, token: "abc.def", ok: true},
		{name: "lower-case scheme", auth: []string{"bearer abc"}, token: "abc", ok: true},
		{name: "upper-case scheme", auth: []string{"BEARER abc"}, token: "abc", ok: true},
		{name: "extra spaces", auth: []string{"  Bearer   abc  "}, token: "abc", ok: true},
		{name: "header wins over cookie", auth: []string{"Bearer abc"}, cookie: cookie, token: "abc", ok: true},
		{name: "cookie alone", cookie: cookie, token: "from-cookie", fromCookie: true, ok: true},
		{name: "basic falls back to cookie", auth: []string{"Basic dXNlcjpwYXNz"}, cookie: cookie, token: "from-cookie", fromCookie: true, ok: true},
		{name: "basic alone", auth: []string{"Basic dXNlcjpwYXNz"}},
		{name: "scheme only", auth: []string{"Bearer"}},
		{name: "scheme and space", auth: []string{"Bearer "}},
		{name: "token with space", auth: []string{"Bearer a b"}},
		{name: "token with tab", auth: []string{"Bearer a\tb"}},
		{name: "no scheme", auth: []string{"abc"}},
		{name: "bearer-ish scheme", auth: []string{"Bearerx abc"}},
		{name: "empty cookie", cookie: &http.Cookie{Name: CookieName, Value: ""}},
		{name: "other cookie", cookie: &http.Cookie{Name: "other", Value: "x"}},
		{name: "nothing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/streams", nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			if tc.cookie != nil {
				r.AddCookie(tc.cookie)
			}
			token, fromCookie, ok := TokenFrom(r)
			if token != tc.token || fromCookie != tc.fromCookie || ok != tc.ok {
				t.Errorf("TokenFrom = (%q, %v, %v), want (%q, %v, %v)", token, fromCookie, ok, tc.token, tc.fromCookie, tc.ok)
			}
		})
	}
}
