package admission

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	cases := map[string]string{
		"192.0.2.1:1234":        "192.0.2.1",
		"[2001:db8::1]:443":     "2001:db8::1",
		"[::ffff:192.0.2.9]:80": "192.0.2.9",
		"192.0.2.3":             "192.0.2.3",
		"@":                     "@", // unix socket peers have no IP
	}
	for remote, want := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "203.0.113.66")
		if got := ClientIP(r); got != want {
			t.Errorf("ClientIP(RemoteAddr=%q) = %q, want %q (X-Forwarded-For ignored)", remote, got, want)
		}
	}
}

func TestClientIPBehind(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client ignores header", "192.0.2.1:1", []string{"203.0.113.1"}, "192.0.2.1"},
		{"one proxy", "10.0.0.1:1", []string{"203.0.113.1"}, "203.0.113.1"},
		{"forged entries left of the real client", "10.0.0.1:1", []string{"198.51.100.1, 203.0.113.1"}, "203.0.113.1"},
		{"chain of trusted proxies", "10.0.0.1:1", []string{"203.0.113.1, 10.1.1.1", "10.2.2.2"}, "203.0.113.1"},
		{"no header", "10.0.0.1:1", nil, "10.0.0.1"},
		{"garbage stops the walk", "10.0.0.1:1", []string{"203.0.113.1, nonsense, 10.1.1.1"}, "10.1.1.1"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, h := range tc.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := ClientIPBehind(r, proxies); got != tc.want {
			t.Errorf("%s: ClientIPBehind = %q, want %q", tc.name, got, tc.want)
		}
	}
}
