package client

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

var _ = Describe("Subscribing to some event types", func() {
	var (
		ns, token string
		s         *runningStreamer
	)
	BeforeEach(func() {
		ns = newNamespace()
		token = readerToken(ns, "reader", true)
		s = startStreamerAt("127.0.0.1:0", streamer.Options{})
	})

	types := func(c *collector) []string {
		var out []string
		for _, ev := range c.all() {
			if ev.Type == wire.KindSynced {
				out = append(out, "synced")
				continue
			}
			out = append(out, string(ev.Type)+" "+ev.Cast.Name)
		}
		return out
	}

	It("asks the streamer for them, and after a restart reports deleted only the Casts the list confirms gone", func() {
		running := createCast(ns, "running")
		Expect(updateStatus(running, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseRunning })).To(Succeed())
		rerun := createCast(ns, "rerun")
		Expect(updateStatus(rerun, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseFailed })).To(Succeed())
		doomed := createCast(ns, "doomed")
		Expect(updateStatus(doomed, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseSucceeded })).To(Succeed())
		// The streamer has seen them all before the subscription starts.
		Eventually(func() int {
			return len(startedList(s.url, token, ns, castv1alpha1.PhaseFailed, castv1alpha1.PhaseSucceeded, castv1alpha1.PhaseRunning))
		}).Should(Equal(3))

		rec := &recorder{}
		c, _ := subscribe(s.url, token, Scope{Namespace: ns, Events: []wire.Kind{wire.KindComplete, wire.KindDeleted}}, rec)
		Eventually(c.synced).Should(Equal(1))
		Expect(types(c)).To(ConsistOf("complete rerun", "complete doomed", "synced"))
		Expect(rec.streamQueries()[0]).To(Equal("events=complete%2Cdeleted"))

		Expect(updateStatus(running, func(st *castv1alpha1.CastStatus) { st.Progress = 50 })).To(Succeed())
		Expect(updateStatus(running, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseSucceeded })).To(Succeed())
		Eventually(func() wire.Kind { return c.last("running").Type }).Should(Equal(wire.KindComplete))
		Expect(c.of("running")).To(HaveLen(1), "the progress change was not asked for")

		// While the streamer is down, one finished Cast is re-run (its
		// state is a status now, which a filtered snapshot leaves out) and
		// another is deleted. A new streamer answers with a full snapshot.
		s.stop()
		Expect(updateStatus(rerun, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.RunAttempt = castv1alpha1.PhaseRunning, 2
		})).To(Succeed())
		Expect(k8s.Delete(ctx, doomed)).To(Succeed())
		s = startStreamerAt(s.addr, streamer.Options{})
		Eventually(c.synced).Should(Equal(2))
		Expect(c.last("doomed").Type).To(Equal(wire.KindDeleted), "the list confirms doomed is gone")
		Expect(c.of("rerun")).To(HaveLen(1), "rerun is absent from the snapshot only because it is running again: not deleted")
		for _, q := range rec.streamQueries() {
			Expect(q).To(Equal("events=complete%2Cdeleted"), "every reconnect asks for the same types")
		}
	})

	It("follows one Cast for its deletion only, past its outcome", func() {
		one := createCast(ns, "one")
		Expect(updateStatus(one, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseRunning })).To(Succeed())
		c, _ := subscribe(s.url, token, Scope{Namespace: ns, Name: "one", Events: []wire.Kind{wire.KindDeleted}}, nil)
		Expect(updateStatus(one, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseSucceeded })).To(Succeed())
		Consistently(c.closed, time.Second).ShouldNot(BeClosed(), "the outcome was not asked for and does not end the subscription")
		Expect(c.all()).To(BeEmpty())
		Expect(k8s.Delete(ctx, one)).To(Succeed())
		Eventually(c.closed).Should(BeClosed())
		Expect(c.sub.Err()).NotTo(HaveOccurred())
		Expect(types(c)).To(Equal([]string{"deleted one"}))
	})

	It("refuses an unknown event type at Subscribe", func() {
		cl, err := New(Options{Server: s.url, Token: token})
		Expect(err).NotTo(HaveOccurred())
		_, err = cl.Subscribe(ctx, Scope{Namespace: ns, Events: []wire.Kind{wire.KindComplete, "finished"}})
		Expect(err).To(MatchError(ContainSubstring(`unknown event type "finished"`)))
	})
})

// startedList returns the names of the namespace's Casts in one of the
// phases, as the streamer's JSON list shows them.
func startedList(url, token, ns string, phases ...castv1alpha1.CastPhase) []string {
	req, err := http.NewRequest(http.MethodGet, url+"/api/v1/namespaces/"+ns+"/casts", nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var list struct {
		Items []wire.Snapshot `json:"items"`
	}
	if json.NewDecoder(resp.Body).Decode(&list) != nil {
		return nil
	}
	var out []string
	for _, snap := range list.Items {
		if slices.Contains(phases, snap.Status) {
			out = append(out, snap.Name)
		}
	}
	return out
}
