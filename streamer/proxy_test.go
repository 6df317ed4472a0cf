package streamer

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// The per-address limit protects TokenReview from made-up tokens; it
// must not refuse the valid users who share an address with whoever sends
// them, and behind a trusted proxy it must see each client apart.
var _ = Describe("Per-address limits and trusted proxies", func() {
	var ns, token string
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

	BeforeEach(func() {
		ns = newNamespace()
		createCast(ns, "build-1", nil)
		token = serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"get", "list", "watch"})
	})

	// exhaust sends made-up tokens until the address is refused, and
	// returns how many were answered 401 first.
	exhaust := func(url string, header http.Header) int {
		GinkgoHelper()
		unauthorized := 0
		for i := range 20 {
			h := header.Clone()
			h.Set("Authorization", "Bearer made-up-"+ns+"-"+strings.Repeat("x", i))
			resp, body := get(url+"/api/v1/casts", h)
			if resp.StatusCode == http.StatusTooManyRequests {
				Expect(body).To(ContainSubstring("too many requests without a valid token from this address"))
				Expect(resp.Header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
				return unauthorized
			}
			Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), body)
			unauthorized++
		}
		Fail("20 made-up tokens from one address and never a 429")
		return unauthorized
	}

	It("lets a token it has seen accepted through an address locked out by made-up tokens, and still refuses the next made-up one without a TokenReview", func() {
		url, _ := startStreamer(Options{})
		list := url + "/api/v1/namespaces/" + ns + "/casts"
		resp, body := get(list, bearer(token))
		Expect(resp.StatusCode).To(Equal(http.StatusOK), body)
		cookie := signIn(url, token, nil)

		Expect(exhaust(url, http.Header{})).To(Equal(5), "the default burst of bad tokens per address")

		By("serving the known token, as a header and as a session cookie, from the locked-out address")
		resp, body = get(list, bearer(token))
		Expect(resp.StatusCode).To(Equal(http.StatusOK), body)
		openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token)).nextOf(wire.KindSynced)
		openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", http.Header{"Cookie": {cookie.String()}}).nextOf(wire.KindSynced)

		By("refusing another made-up token with 429 before it costs a TokenReview")
		reviews := tokenReviews()
		resp, body = get(list, bearer("made-up-after-"+ns))
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests), body)
		Expect(resp.Header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
		Expect(tokenReviews()).To(Equal(reviews))

		By("still serving the known token after its cache entry lapsed (10s), while a bad token keeps coming every 3s")
		deadline := time.Now().Add(11 * time.Second)
		for time.Now().Before(deadline) {
			resp, body = get(list, bearer("made-up-steady-"+ns+time.Now().String()))
			Expect(resp.StatusCode).To(BeElementOf(http.StatusUnauthorized, http.StatusTooManyRequests), body)
			time.Sleep(3 * time.Second)
		}
		resp, body = get(list, bearer(token))
		Expect(resp.StatusCode).To(Equal(http.StatusOK), body)
		openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", http.Header{"Cookie": {cookie.String()}}).nextOf(wire.KindSynced)
	})

	It("limits each client behind a trusted proxy on its own, and logs the client's address", func() {
		url, _ := startStreamer(Options{TrustedProxies: loopback})
		logged := logsFromNow()
		clients := []string{"203.0.113.11", "203.0.113.12", "2001:db8:14::1", "203.0.113.13"}
		for _, c := range clients {
			// The right-most untrusted entry is the client; what it
			// claims further left is its own business.
			xff := http.Header{"X-Forwarded-For": {"192.0.2.99, " + c + ", 127.0.0.5"}}
			Expect(exhaust(url, xff)).To(Equal(5), "client %s has its own budget", c)
		}
		Expect(logged()).To(ContainSubstring(`"reason": "rate_limited", "ip": "203.0.113.11"`))
		Expect(logged()).To(ContainSubstring(`"reason": "rate_limited", "ip": "2001:db8:14::1"`))
		Expect(logged()).NotTo(ContainSubstring(`"ip": "192.0.2.99"`))
		Expect(logged()).NotTo(ContainSubstring(`"ip": "127.0.0.1"`))

		By("streaming a valid token to another client, then to a locked-out one that presents it, each logged under its own address")
		events := url + "/api/v1/namespaces/" + ns + "/casts/events"
		s := openStream(events, http.Header{"Authorization": {"Bearer " + token}, "X-Forwarded-For": {"203.0.113.20"}})
		s.nextOf(wire.KindSynced)
		s.close()
		s = openStream(events, http.Header{"Authorization": {"Bearer " + token}, "X-Forwarded-For": {"203.0.113.11"}})
		s.nextOf(wire.KindSynced)
		s.close()
		Eventually(streamClosedLog(ns)).Should(And(ContainSubstring(`"ip": "203.0.113.20"`), ContainSubstring(`"ip": "203.0.113.11"`)))
	})

	It("ignores forwarding headers from a peer that is not a trusted proxy", func() {
		url, _ := startStreamer(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		logged := logsFromNow()
		By("not marking the session cookie Secure on an untrusted X-Forwarded-Proto")
		Expect(signIn(url, token, http.Header{"X-Forwarded-Proto": {"https"}}).Secure).To(BeFalse())

		By("counting every made-up token against the peer, whatever X-Forwarded-For it claims")
		unauthorized := 0
		for i := range 10 {
			spoofed := http.Header{"X-Forwarded-For": {"198.51.100." + string(rune('1'+i))}}
			spoofed.Set("Authorization", "Bearer made-up-spoof-"+ns+strings.Repeat("y", i))
			resp, body := get(url+"/api/v1/casts", spoofed)
			if resp.StatusCode == http.StatusTooManyRequests {
				break
			}
			Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), body)
			unauthorized++
		}
		Expect(unauthorized).To(Equal(5), "a fresh X-Forwarded-For on every request must not buy a fresh budget")
		Expect(logged()).To(ContainSubstring(`"reason": "rate_limited", "ip": "127.0.0.1"`))
		Expect(logged()).NotTo(ContainSubstring(`198.51.100.`))
	})

	It("sets a Secure session cookie behind a TLS-terminating trusted proxy, and not over plain HTTP", func() {
		url, _ := startStreamer(Options{TrustedProxies: loopback})
		secure := signIn(url, token, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.40"}})
		Expect(secure.Secure).To(BeTrue())
		Expect(secure.HttpOnly).To(BeTrue())
		Expect(signIn(url, token, http.Header{"X-Forwarded-Proto": {"http"}}).Secure).To(BeFalse())
		Expect(signIn(url, token, nil).Secure).To(BeFalse())

		By("clearing the cookie with the same attributes it was set with")
		req, err := http.NewRequest(http.MethodDelete, url+"/api/v1/session", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(sessionCookieOf(resp).Secure).To(BeTrue())
	})
})

// signIn exchanges token for the session cookie through POST
// /api/v1/session, with extra request headers.
func signIn(url, token string, header http.Header) *http.Cookie {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/session", strings.NewReader(`{"token":"`+token+`"}`))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	return sessionCookieOf(resp)
}

func sessionCookieOf(resp *http.Response) *http.Cookie {
	GinkgoHelper()
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			return c
		}
	}
	Fail("no " + auth.CookieName + " cookie in the response")
	return nil
}

// logsFromNow returns what the suite's log holds beyond what it holds now,
// so a spec judges its own lines only.
func logsFromNow() func() string {
	start := len(logs.String())
	return func() string { return logs.String()[start:] }
}

// tokenReviews is how many TokenReviews this process has sent.
func tokenReviews() float64 {
	GinkgoHelper()
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != "cast_streamer_auth_api_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == "tokenreview" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	Fail("no TokenReview counter")
	return 0
}
