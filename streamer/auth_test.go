package streamer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

func get(url string, header http.Header) (*http.Response, string) {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

var _ = Describe("Who may stream what", func() {
	var url, ns, other string
	BeforeEach(func() {
		url, _ = startStreamer(Options{})
		ns, other = newNamespace(), newNamespace()
		createCast(ns, "build-1", nil)
		createCast(ns, "build-2", nil)
	})

	paths := func(namespace string) []string {
		return []string{
			"/api/v1/namespaces/" + namespace + "/casts/build-1/events",
			"/api/v1/namespaces/" + namespace + "/casts/events",
			"/api/v1/casts/events",
			"/api/v1/namespaces/" + namespace + "/casts/build-1",
			"/api/v1/namespaces/" + namespace + "/casts",
			"/api/v1/casts",
		}
	}

	It("answers 401 with WWW-Authenticate for no, garbage, deleted-account and wrong-audience tokens", func() {
		// A generous per-address limit: this spec sends 30 bad requests on purpose.
		url, _ = startStreamer(Options{IPRate: 100})
		deleted := serviceAccountToken(ns, "gone")
		Expect(kube.CoreV1().ServiceAccounts(ns).Delete(context.Background(), "gone", deleteNow())).To(Succeed())
		for name, h := range map[string]http.Header{
			"no token":        {},
			"garbage":         bearer("not-a-token"),
			"deleted account": bearer(deleted),
			"wrong audience":  bearer(serviceAccountToken(ns, "elsewhere", "https://other.example.com")),
			"empty bearer":    {"Authorization": {"Bearer "}},
		} {
			for _, p := range paths(ns) {
				resp, body := get(url+p, h)
				Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), "%s on %s: %s", name, p, body)
				Expect(resp.Header.Get("WWW-Authenticate")).To(HavePrefix("Bearer"))
			}
		}
	})

	It("answers 403 naming what is missing", func() {
		none := serviceAccountToken(ns, "nobody")
		nsOnly := serviceAccountToken(ns, "ns-reader")
		allow(ns, "ns-reader", ns, []string{"get", "list", "watch"})
		oneCast := serviceAccountToken(ns, "one-cast")
		allow(ns, "one-cast", ns, []string{"get", "watch"}, "build-1")

		cases := []struct {
			token, path, want string
		}{
			{none, "/api/v1/namespaces/" + ns + "/casts/events", "cannot list"},
			{none, "/api/v1/namespaces/" + ns + "/casts/build-1/events", "cannot get"},
			{nsOnly, "/api/v1/namespaces/" + other + "/casts/events", `in namespace "` + other + `"`},
			{nsOnly, "/api/v1/casts/events", "cannot list"},
			{oneCast, "/api/v1/namespaces/" + ns + "/casts/build-2/events", `"build-2"`},
			{oneCast, "/api/v1/namespaces/" + ns + "/casts/events", "cannot list"},
		}
		for _, c := range cases {
			resp, body := get(url+c.path, bearer(c.token))
			Expect(resp.StatusCode).To(Equal(http.StatusForbidden), c.path+": "+body)
			Expect(body).To(ContainSubstring(c.want))
		}
	})

	It("serves every scope to callers RBAC allows, resourceNames included", func() {
		oneCast := serviceAccountToken(ns, "one-cast")
		allow(ns, "one-cast", ns, []string{"get", "watch"}, "build-1")
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/build-1/events", bearer(oneCast))
		Expect(snapshotOf(s.next()).Name).To(Equal("build-1"))

		nsReader := serviceAccountToken(ns, "ns-reader")
		allow(ns, "ns-reader", ns, []string{"list", "watch"})
		s = openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(nsReader))
		s.nextOf(wire.KindSynced)

		everywhere := serviceAccountToken(other, "cluster-reader")
		allow(other, "cluster-reader", "", []string{"list", "watch"})
		s = openStream(url+"/api/v1/casts/events", bearer(everywhere))
		seen := map[string]bool{}
		for m := s.next(); m.Event != "synced"; m = s.next() {
			seen[snapshotOf(m).Namespace] = true
		}
		Expect(seen).To(HaveKey(ns))
	})

	It("refuses the 11th concurrent stream of one identity with 429 and Retry-After", func() {
		token := serviceAccountToken(ns, "greedy")
		allow(ns, "greedy", ns, []string{"list", "watch"})
		for range 10 {
			openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token)).nextOf(wire.KindSynced)
		}
		resp, body := get(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests), body)
		Expect(resp.Header.Get("Retry-After")).NotTo(BeEmpty())
	})

	It("reports the caller's open streams in GET /api/v1/session, so a dashboard can explain a stream's 429", func() {
		url, _ = startStreamer(Options{MaxStreamsPerUser: 2})
		token := serviceAccountToken(ns, "tabs")
		allow(ns, "tabs", ns, []string{"list", "watch"})
		type session struct {
			User    string
			Groups  []string
			Streams *struct{ Open, Max int }
		}
		whoAmI := func(token string) (session, error) {
			var out session
			resp, body := get(url+"/api/v1/session", bearer(token))
			if resp.StatusCode != http.StatusOK {
				return out, fmt.Errorf("GET /api/v1/session: %d %s", resp.StatusCode, body)
			}
			return out, json.Unmarshal([]byte(body), &out)
		}
		streams := func(token string) func() (int, error) {
			return func() (int, error) {
				me, err := whoAmI(token)
				switch {
				case err != nil:
					return -1, err
				case me.Streams == nil:
					return -1, errors.New(`no "streams" in the session`)
				case me.Streams.Max != 2:
					return -1, fmt.Errorf("streams.max = %d, want 2", me.Streams.Max)
				}
				return me.Streams.Open, nil
			}
		}

		me, err := whoAmI(token)
		Expect(err).NotTo(HaveOccurred())
		Expect(me.User).To(Equal("system:serviceaccount:" + ns + ":tabs"))
		Expect(me.Groups).To(ContainElement("system:serviceaccounts"))
		Expect(me.Streams).To(Equal(&struct{ Open, Max int }{0, 2}))

		events := url + "/api/v1/namespaces/" + ns + "/casts/events"
		first := openStream(events, bearer(token))
		first.nextOf(wire.KindSynced)
		Expect(streams(token)()).To(Equal(1))
		openStream(events, bearer(token)).nextOf(wire.KindSynced)
		Expect(streams(token)()).To(Equal(2))

		By("refusing the third stream while the JSON endpoint still answers, and the session says why")
		resp, body := get(events, bearer(token))
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests), body)
		Expect(body).To(ContainSubstring("too many open streams for system:serviceaccount:" + ns + ":tabs"))
		resp, body = get(url+"/api/v1/namespaces/"+ns+"/casts", bearer(token))
		Expect(resp.StatusCode).To(Equal(http.StatusOK), "stream slots bind streams only: "+body)
		Expect(streams(token)()).To(Equal(2), "the refused stream holds no slot")

		By("counting per identity, and freeing a slot when a stream closes")
		other := serviceAccountToken(ns, "other-tab")
		Expect(streams(other)()).To(Equal(0))
		first.close()
		Eventually(streams(token)).Should(Equal(1))
		openStream(events, bearer(token)).nextOf(wire.KindSynced)
		Expect(streams(token)()).To(Equal(2))
	})

	It("rate-limits connection bursts per identity and bad tokens per address", func() {
		token := serviceAccountToken(ns, "bursty")
		allow(ns, "bursty", ns, []string{"list", "watch"})
		codes := map[int]int{}
		for range 40 {
			resp, _ := get(url+"/api/v1/namespaces/"+ns+"/casts", bearer(token))
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests {
				Expect(resp.Header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
			}
		}
		Expect(codes[http.StatusOK]).To(BeNumerically(">=", 10))
		Expect(codes[http.StatusTooManyRequests]).To(BeNumerically(">", 0))

		bad := map[int]int{}
		for i := range 30 {
			resp, _ := get(url+"/api/v1/casts", bearer("garbage-"+strings.Repeat("x", i)))
			bad[resp.StatusCode]++
		}
		Expect(bad[http.StatusUnauthorized]).To(BeNumerically(">", 0))
		Expect(bad[http.StatusTooManyRequests]).To(BeNumerically(">", 0), "bad tokens must not flood TokenReview")
	})

	It("exchanges a token for an HttpOnly session cookie that streams work with, and never logs the token", func() {
		token := serviceAccountToken(ns, "browser")
		allow(ns, "browser", ns, []string{"list", "watch"})
		resp, err := http.Post(url+"/api/v1/session", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
		Expect(err).NotTo(HaveOccurred())
		var who struct{ User string }
		Expect(json.NewDecoder(resp.Body).Decode(&who)).To(Succeed())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(who.User).To(Equal("system:serviceaccount:" + ns + ":browser"))
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == auth.CookieName {
				cookie = c
			}
		}
		Expect(cookie).NotTo(BeNil())
		Expect(cookie.HttpOnly).To(BeTrue())
		Expect(cookie.SameSite).To(Equal(http.SameSiteStrictMode))

		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", http.Header{"Cookie": {cookie.String()}})
		s.nextOf(wire.KindSynced)

		bad, err := http.Post(url+"/api/v1/session", "application/json", strings.NewReader(`{"token":"nope"}`))
		Expect(err).NotTo(HaveOccurred())
		bad.Body.Close()
		Expect(bad.StatusCode).To(Equal(http.StatusUnauthorized))

		req, _ := http.NewRequest(http.MethodDelete, url+"/api/v1/session", nil)
		out, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		out.Body.Close()
		Expect(out.Header.Get("Set-Cookie")).To(ContainSubstring(auth.CookieName + "="))
		Expect(out.Header.Get("Set-Cookie")).To(ContainSubstring("Max-Age=0"))

		s.close()
		// The stream's last line is logged once it closed; then check all.
		Eventually(streamClosedLog(ns)).Should(ContainSubstring(`"user": "system:serviceaccount:` + ns + `:browser"`))
		Expect(logs.String()).NotTo(ContainSubstring(token))
		Expect(logs.String()).NotTo(ContainSubstring(token[:20]))
	})

	It("signs in only with a body declared JSON, which a cross-site form cannot send (login CSRF)", func() {
		token := serviceAccountToken(ns, "attacker")
		body := `{"token":"` + token + `"}`
		// <form enctype="text/plain"> posts name=value: a name of
		// {"token":"...","x":" and a value of "} is valid JSON.
		for _, contentType := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
			req, err := http.NewRequest(http.MethodPost, url+"/api/v1/session", strings.NewReader(body))
			Expect(err).NotTo(HaveOccurred())
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusUnsupportedMediaType), "Content-Type %q", contentType)
			Expect(string(msg)).To(ContainSubstring("want Content-Type: application/json"))
			Expect(resp.Cookies()).To(BeEmpty(), "Content-Type %q must neither sign in nor sign out", contentType)
		}

		resp, err := http.Post(url+"/api/v1/session", "application/json; charset=utf-8", strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK), "a charset parameter is still JSON")
	})
})
