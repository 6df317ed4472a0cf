package admission

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address the request came from (RemoteAddr). It
// ignores X-Forwarded-For, which any client can forge to dodge per-IP
// limits; behind a proxy use ClientIPBehind.
func ClientIP(r *http.Request) string {
	return remoteIP(r.RemoteAddr)
}

// ClientIPBehind is ClientIP for a streamer behind reverse proxies: when
// the connection comes from one of trustedProxies, it walks
// X-Forwarded-For from the right past trusted hops and returns the first
// address a trusted proxy saw, so forged entries further left do not count.
// With no trusted proxies it is ClientIP.
func ClientIPBehind(r *http.Request, trustedProxies []netip.Prefix) string {
	ip := ClientIP(r)
	if !trusted(ip, trustedProxies) {
		return ip
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHop(strings.TrimSpace(hops[i]))
		if !ok {
			return ip // garbage from here on cannot be trusted
		}
		ip = addr.String()
		if !trusted(ip, trustedProxies) {
			return ip
		}
	}
	return ip
}

// ForwardedHTTPS reports whether a trusted proxy says the client reached
// it over HTTPS (X-Forwarded-Proto: https), as a proxy terminating TLS
// does. The first value counts: it is the scheme of the hop nearest the
// client. From any other peer the header is ignored.
func ForwardedHTTPS(r *http.Request, trustedProxies []netip.Prefix) bool {
	if !trusted(ClientIP(r), trustedProxies) {
		return false
	}
	first, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(first), "https")
}

// ParseTrustedProxies parses the --trusted-proxies list: CIDRs, or bare
// addresses meaning that one host. The error names the entry that is
// neither, so a typo fails the start rather than silently trusting
// nobody (or the wrong network).
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, unmapPrefix(p).Masked())
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not a CIDR (like 10.0.0.0/8) or an IP address", s)
		}
		addr = addr.Unmap()
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// the IPv4 one (10.0.0.0/8), because client addresses are compared
// unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// parseHop reads one X-Forwarded-For entry: an address, or an address
// with a port as some proxies write it (192.0.2.1:4711, [2001:db8::1]:80).
func parseHop(hop string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(hop); err == nil {
		return addr.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func trusted(ip string, proxies []netip.Prefix) bool {
	if len(proxies) == 0 {
		return false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func remoteIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap().String()
	}
	return host
}
