package admission

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
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
		r := httptest.NewRequest(http.MethodGet, "/", nil)
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
		{"every hop trusted", "10.0.0.1:1", []string{"10.3.3.3, 10.1.1.1"}, "10.3.3.3"},
		{"empty header", "10.0.0.1:1", []string{""}, "10.0.0.1"},
		{"entries with ports", "10.0.0.1:1", []string{"203.0.113.1:4711, 10.1.1.1:80"}, "203.0.113.1"},
		{"IPv6 client", "10.0.0.1:1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv4-mapped client", "10.0.0.1:1", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"IPv4-mapped proxy peer", "[::ffff:10.0.0.1]:1", []string{"203.0.113.1"}, "203.0.113.1"},
		{"spoofed trusted address from an untrusted peer", "192.0.2.1:1", []string{"10.1.1.1"}, "192.0.2.1"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		for _, h := range tc.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := ClientIPBehind(r, proxies); got != tc.want {
			t.Errorf("%s: ClientIPBehind = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestClientIPBehindNoTrustedProxies(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "203.0.113.1")
	if got := ClientIPBehind(r, nil); got != "127.0.0.1" {
		t.Errorf("ClientIPBehind(nil proxies) = %q, want the peer 127.0.0.1", got)
	}
}

func TestForwardedHTTPS(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name, remote string
		proto        []string
		want         bool
	}{
		{"trusted proxy terminated TLS", "10.0.0.1:1", []string{"https"}, true},
		{"case does not matter", "10.0.0.1:1", []string{"HTTPS"}, true},
		{"trusted proxy over plain HTTP", "10.0.0.1:1", []string{"http"}, false},
		{"first hop counts", "10.0.0.1:1", []string{"https, http"}, true},
		{"first hop plain", "10.0.0.1:1", []string{"http, https"}, false},
		{"no header", "10.0.0.1:1", nil, false},
		{"untrusted peer cannot claim HTTPS", "192.0.2.1:1", []string{"https"}, false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		for _, h := range tc.proto {
			r.Header.Add("X-Forwarded-Proto", h)
		}
		if got := ForwardedHTTPS(r, proxies); got != tc.want {
			t.Errorf("%s: ForwardedHTTPS = %v, want %v", tc.name, got, tc.want)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-Proto", "https")
	if ForwardedHTTPS(r, nil) {
		t.Error("ForwardedHTTPS with no trusted proxies = true, want false")
	}
}

func TestParseTrustedProxies(t *testing.T) {
	cases := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: nil, want: []string{}},
		{in: []string{"10.0.0.0/8", "2001:db8::/32"}, want: []string{"10.0.0.0/8", "2001:db8::/32"}},
		{in: []string{"10.1.2.3/8"}, want: []string{"10.0.0.0/8"}},
		{in: []string{"192.0.2.7"}, want: []string{"192.0.2.7/32"}},
		{in: []string{"2001:db8::1"}, want: []string{"2001:db8::1/128"}},
		{in: []string{"::ffff:10.0.0.0/104"}, want: []string{"10.0.0.0/8"}},
		{in: []string{"10.0.0.0/8", "10.0.0/8"}, wantErr: `"10.0.0/8"`},
		{in: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33"`},
		{in: []string{"ingress.example.com"}, wantErr: `"ingress.example.com"`},
	}
	for _, tc := range cases {
		got, err := ParseTrustedProxies(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTrustedProxies(%q) error = %v, want one naming %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTrustedProxies(%q): %v", tc.in, err)
			continue
		}
		strs := make([]string, 0, len(got))
		for _, p := range got {
			strs = append(strs, p.String())
		}
		if !slices.Equal(strs, tc.want) {
			t.Errorf("ParseTrustedProxies(%q) = %q, want %q", tc.in, strs, tc.want)
		}
	}
}
