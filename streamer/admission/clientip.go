package admission

import (
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
		hop := strings.TrimSpace(hops[i])
		addr, err := netip.ParseAddr(hop)
		if err != nil {
			return ip // garbage from here on cannot be trusted
		}
		ip = addr.Unmap().String()
		if !trusted(ip, trustedProxies) {
			return ip
		}
	}
	return ip
}

func trusted(ip string, proxies []netip.Prefix) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range proxies {
		if p.Contains(addr.Unmap()) {
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
