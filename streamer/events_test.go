package streamer

import (
	"context"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

var _ = Describe("Cast event streams", func() {
	var (
		url, ns, token string
		ctx            = context.Background()
	)
	BeforeEach(func() {
		url, _ = startStreamer(Options{})
		ns = newNamespace()
		token = serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"get", "list", "watch"})
	})

	It("sends the namespace's state, synced, then status, progress, complete and deleted, with heartbeats", func() {
		a := createCast(ns, "a", nil)
		createCast(ns, "b", nil)
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		Expect(s.resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
		Expect(s.resp.Header.Get("Cache-Control")).To(Equal("no-cache, no-transform"))
		Expect(s.resp.Header.Get("X-Accel-Buffering")).To(Equal("no"))

		first, second := s.next(), s.next()
		Expect([]string{snapshotOf(first).Name, snapshotOf(second).Name}).To(ConsistOf("a", "b"))
		Expect(first.Event).To(Equal("status"))
		synced := s.next()
		Expect(synced.Event).To(Equal("synced"))
		Expect(s.parser.Retry()).To(Equal(500 * time.Millisecond))

		setStatus(a, func(st *castv1alpha1.CastStatus) { st.Phase, st.RunID = castv1alpha1.PhaseRunning, 42 })
		m := s.next()
		Expect(m.Event).To(Equal("status"))
		snap := snapshotOf(m)
		Expect(snap.CastID).To(Equal(ns + "/a"))
		Expect(snap.Status).To(Equal(castv1alpha1.PhaseRunning))
		Expect(snap.RunID).To(BeEquivalentTo(42))
		Expect(m.ID).To(Equal(snap.ResourceVersion))

		setStatus(a, func(st *castv1alpha1.CastStatus) { st.Progress, st.Message = 40, "brewing" })
		m = s.next()
		Expect(m.Event).To(Equal("progress"))
		Expect(snapshotOf(m).Progress).To(BeEquivalentTo(40))
		Expect(snapshotOf(m).Message).To(Equal("brewing"))

		setStatus(a, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.CostCents = castv1alpha1.PhaseSucceeded, 100, 7
			st.Artifacts = []castv1alpha1.Artifact{{Name: "report", SizeBytes: 10, URL: "https://example.com/r"}}
		})
		m = s.next()
		Expect(m.Event).To(Equal("complete"))
		Expect(snapshotOf(m).Artifacts).To(HaveLen(1))
		Expect(snapshotOf(m).CostCents).To(BeEquivalentTo(7))

		Expect(k8s.Delete(ctx, a)).To(Succeed())
		m = s.next()
		Expect(m.Event).To(Equal("deleted"))
		Expect(snapshotOf(m).CastID).To(Equal(ns + "/a"))

		Eventually(s.comments).Should(Receive(Equal("heartbeat")))
	})

	It("sends nothing for metadata-only changes", func() {
		a := createCast(ns, "quiet", nil)
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		s.nextOf(wire.KindSynced)
		Eventually(func() error {
			cur := &castv1alpha1.Cast{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(a), cur); err != nil {
				return err
			}
			cur.Labels = map[string]string{"touched": "yes"}
			return k8s.Update(ctx, cur)
		}).Should(Succeed())
		Consistently(s.events, "1s").ShouldNot(Receive())
	})

	It("streams one Cast until its terminal state, then completes and closes", func() {
		a := createCast(ns, "single", nil)
		createCast(ns, "neighbour", nil)
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/single/events", bearer(token))
		m := s.next()
		Expect(m.Event).To(Equal("status"))
		Expect(snapshotOf(m).Name).To(Equal("single"))

		setStatus(a, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseRunning })
		Expect(s.next().Event).To(Equal("status"))
		setStatus(a, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseFailed })
		m = s.next()
		Expect(m.Event).To(Equal("complete"))
		Expect(snapshotOf(m).Status).To(Equal(castv1alpha1.PhaseFailed))
		s.endsWithin(5 * time.Second)

		// A finished Cast is sent as complete at once.
		again := openStream(url+"/api/v1/namespaces/"+ns+"/casts/single/events", bearer(token))
		Expect(again.next().Event).To(Equal("complete"))
		again.endsWithin(5 * time.Second)
	})

	It("resumes from Last-Event-ID with exactly what changed, deletions included", func() {
		a := createCast(ns, "a", nil)
		b := createCast(ns, "b", nil)
		c := createCast(ns, "c", nil)
		// The first stream reads until it has seen each Cast's last write
		// (a status write can reach the informer after the snapshot), so
		// the resume point is after everything c will ever be.
		final := map[string]string{}
		for _, x := range []*castv1alpha1.Cast{a, b, c} {
			cur := &castv1alpha1.Cast{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(x), cur)).To(Succeed())
			final[x.Name] = cur.ResourceVersion
		}
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		seen, last := map[string]string{}, ""
		for !reflect.DeepEqual(seen, final) {
			m := s.next()
			if m.Event != string(wire.KindSynced) {
				seen[snapshotOf(m).Name] = snapshotOf(m).ResourceVersion
			}
			last = m.ID
		}
		s.close()

		setStatus(a, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseSucceeded })
		Expect(k8s.Delete(ctx, b)).To(Succeed())
		// The streamer has seen both once its JSON list says so.
		Eventually(func(g Gomega) string {
			resp, body := get(url+"/api/v1/namespaces/"+ns+"/casts", bearer(token))
			g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
			return body
		}).Should(And(ContainSubstring(`"Succeeded"`), Not(ContainSubstring(`"name":"b"`))))

		h := bearer(token)
		h.Set("Last-Event-ID", last)
		resumed := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", h)
		got := map[string]string{}
		for m := resumed.next(); m.Event != "synced"; m = resumed.next() {
			got[snapshotOf(m).Name] = m.Event
		}
		Expect(got).To(Equal(map[string]string{"a": "complete", "b": "deleted"}), "c did not change and must not be resent")

		h.Set("Last-Event-ID", "1")
		full := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", h)
		names := []string{}
		for m := full.next(); m.Event != "synced"; m = full.next() {
			names = append(names, snapshotOf(m).Name)
		}
		Expect(names).To(ConsistOf("a", "c"), "an id too old to answer exactly gets a full snapshot")
	})

	It("filters by labelSelector and rejects a bad one with 400", func() {
		createCast(ns, "blue", map[string]string{"team": "blue"})
		createCast(ns, "red", map[string]string{"team": "red"})
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events?labelSelector=team%3Dblue", bearer(token))
		Expect(snapshotOf(s.next()).Name).To(Equal("blue"))
		Expect(s.next().Event).To(Equal("synced"))
		Expect(getStatus(url+"/api/v1/namespaces/"+ns+"/casts/events?labelSelector=team%3D%3D%3Dx", token)).To(Equal(http.StatusBadRequest))
	})

	It("serves the same JSON for polling clients", func() {
		createCast(ns, "polled", nil)
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/namespaces/"+ns+"/casts/polled", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
		Expect(getStatus(url+"/api/v1/namespaces/"+ns+"/casts", token)).To(Equal(http.StatusOK))
		Expect(getStatus(url+"/api/v1/namespaces/"+ns+"/casts/absent", token)).To(Equal(http.StatusNotFound))
	})
})

var _ = Describe("Stream lifetime", func() {
	It("ends a stream at --max-stream-duration", func() {
		url, _ := startStreamer(Options{MaxStreamDuration: time.Second})
		ns := newNamespace()
		token := serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"list", "watch"})
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		s.nextOf(wire.KindSynced)
		s.endsWithin(5 * time.Second)
	})

	It("ends a stream when the caller's token expires", func() {
		// The clock runs 59m58s ahead: the one-hour token has 2 s left.
		url, _ := startStreamer(Options{Clock: offsetClock(59*time.Minute + 58*time.Second)})
		ns := newNamespace()
		token := serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"list", "watch"})
		start := time.Now()
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		s.nextOf(wire.KindSynced)
		s.endsWithin(10 * time.Second)
		Expect(time.Since(start)).To(BeNumerically(">=", time.Second))
		Eventually(streamClosedLog(ns)).Should(ContainSubstring(`"reason": "token_expired"`))
	})

	It("ends every stream with reason shutdown when the server stops, promptly", func() {
		url, _, stop := startStoppableStreamer(Options{})
		ns := newNamespace()
		token := serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"list", "watch"})
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		s.nextOf(wire.KindSynced)
		start := time.Now()
		stop()
		s.endsWithin(5 * time.Second)
		Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second), "open streams must not hold shutdown up")
		Eventually(streamClosedLog(ns)).Should(ContainSubstring(`"reason": "shutdown"`))
	})

	It("disconnects a client that stops reading, while a reading client of the same namespace gets every final state", func() {
		url, _ := startStreamer(Options{WriteTimeout: time.Second})
		ns := newNamespace()
		token := serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"list", "watch"})
		var casts []*castv1alpha1.Cast
		for i := range 40 {
			casts = append(casts, createCast(ns, "load-"+rand.String(5)+"-"+string(rune('a'+i%26)), nil))
		}

		// The stalled client sends its request and never reads a byte.
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		Expect(conn.(*net.TCPConn).SetReadBuffer(4096)).To(Succeed())
		_, err = conn.Write([]byte("GET /api/v1/namespaces/" + ns + "/casts/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n"))
		Expect(err).NotTo(HaveOccurred())

		reader := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", bearer(token))
		reader.nextOf(wire.KindSynced)
		var mu sync.Mutex
		final := map[string]castv1alpha1.CastPhase{}
		go func() {
			defer GinkgoRecover()
			for m := range reader.events {
				mu.Lock()
				final[snapshotOf(m).Name] = snapshotOf(m).Status
				mu.Unlock()
			}
		}()

		big := strings.Repeat("x", 32<<10)
		for round := range 6 {
			for _, c := range casts {
				setStatus(c, func(st *castv1alpha1.CastStatus) {
					st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, int32(round*10), big+rand.String(8)
				})
			}
		}
		Eventually(streamClosedLog(ns), 30*time.Second).Should(ContainSubstring(`"reason": "slow_consumer"`))
		// It was the stalled client (it sends no User-Agent) that was
		// dropped; the reader's stream stays open, as the rest shows.
		Expect(streamClosedLog(ns)()).To(MatchRegexp(`"userAgent": "".*"reason": "slow_consumer"`))
		for _, c := range casts {
			setStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase, st.Message = castv1alpha1.PhaseSucceeded, "done" })
		}
		Eventually(func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, p := range final {
				if p == castv1alpha1.PhaseSucceeded {
					n++
				}
			}
			return n
		}, 30*time.Second).Should(Equal(len(casts)), "the reading client gets every final state")
	})
})

// streamClosedLog returns the "stream closed" log lines of streams over
// namespace ns: other specs' streams write the same reasons into the
// suite's log, and namespaces are unique per spec.
func streamClosedLog(ns string) func() string {
	return func() string {
		var out []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "stream closed") && strings.Contains(line, `"scope": "namespace `+ns+`"`) {
				out = append(out, line)
			}
		}
		return strings.Join(out, "\n")
	}
}

type offsetClock time.Duration

func (o offsetClock) Now() time.Time                  { return time.Now().Add(time.Duration(o)) }
func (o offsetClock) Since(t time.Time) time.Duration { return o.Now().Sub(t) }
