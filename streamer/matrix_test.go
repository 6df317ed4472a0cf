package streamer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The authorization matrix: every endpoint against every kind of caller,
// with the status code each must get. Expired tokens are covered at the
// authenticator (streamer/auth), which re-signs a real token with a past
// expiry; TokenRequest cannot mint one.
var _ = Describe("Authorization matrix", func() {
	It("gives every caller exactly the access RBAC grants on every endpoint", func() {
		url, _ := startStreamer(Options{IPRate: 100, UserRate: 100})
		ns, other := newNamespace(), newNamespace()
		createCast(ns, "allowed", nil)
		createCast(ns, "hidden", nil)
		deleted := serviceAccountToken(ns, "gone")
		Expect(kube.CoreV1().ServiceAccounts(ns).Delete(context.Background(), "gone", deleteNow())).To(Succeed())

		otherNS := serviceAccountToken(other, "other-ns")
		allow(other, "other-ns", other, []string{"get", "list", "watch"})
		named := serviceAccountToken(ns, "named")
		allow(ns, "named", ns, []string{"get", "watch"}, "allowed")
		nsWide := serviceAccountToken(ns, "ns-wide")
		allow(ns, "ns-wide", ns, []string{"get", "list", "watch"})
		cluster := serviceAccountToken(other, "cluster")
		allow(other, "cluster", "", []string{"get", "list", "watch"})

		one := "/api/v1/namespaces/" + ns + "/casts/allowed"
		endpoints := []string{one + "/events", one, "/api/v1/namespaces/" + ns + "/casts/events",
			"/api/v1/namespaces/" + ns + "/casts", "/api/v1/casts/events", "/api/v1/casts"}
		const (
			u = http.StatusUnauthorized
			f = http.StatusForbidden
			k = http.StatusOK
		)
		callers := []struct {
			name   string
			header http.Header
			want   []int // per endpoint, in the order above
		}{
			{"no token", http.Header{}, []int{u, u, u, u, u, u}},
			{"bad token", bearer("garbage"), []int{u, u, u, u, u, u}},
			{"deleted account", bearer(deleted), []int{u, u, u, u, u, u}},
			{"wrong audience", bearer(serviceAccountToken(ns, "aud", "https://elsewhere.example")), []int{u, u, u, u, u, u}},
			{"another namespace's reader", bearer(otherNS), []int{f, f, f, f, f, f}},
			{"resourceNames-limited Role", bearer(named), []int{k, k, f, f, f, f}},
			{"namespace Role", bearer(nsWide), []int{k, k, k, k, f, f}},
			{"cluster-wide role", bearer(cluster), []int{k, k, k, k, k, k}},
		}
		for _, c := range callers {
			for i, ep := range endpoints {
				Expect(statusOf(url+ep, c.header)).To(Equal(c.want[i]), "%s on %s", c.name, ep)
			}
		}
		Expect(statusOf(url+"/api/v1/namespaces/"+ns+"/casts/hidden", bearer(named))).To(Equal(f))
	})

	It("drops clients that never finish their request headers (slowloris)", func() {
		url, _ := startStreamer(Options{})
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		_, err = fmt.Fprint(conn, "GET /api/v1/casts/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		Expect(conn.SetReadDeadline(time.Now().Add(15 * time.Second))).To(Succeed())
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				break // closed by the server (or our 15 s deadline, which the next line catches)
			}
		}
		Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second), "ReadHeaderTimeout must close the connection")
	})
})

// statusOf returns the status code without reading the body: an allowed
// stream would not end for minutes.
func statusOf(url string, header http.Header) int {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	return resp.StatusCode
}
