package streamer

import (
	"context"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

var _ = Describe("Selective subscriptions (?events=)", func() {
	var (
		url, ns, token string
		ctx            = context.Background()
	)
	BeforeEach(func() {
		url, _ = startStreamer(Options{})
		ns = newNamespace()
		token = serviceAccountToken(ns, "reader")
		// The all-namespaces stream needs a ClusterRole.
		allow(ns, "reader", "", []string{"get", "list", "watch"})
	})

	// ours reads the stream's next event of this spec's namespace (the
	// all-namespaces stream also carries other specs' Casts), or synced.
	ours := func(s *testStream) sse.Message {
		GinkgoHelper()
		for {
			m := s.next()
			if m.Event == string(wire.KindSynced) || snapshotOf(m).Namespace == ns {
				return m
			}
		}
	}
	// seen waits until the streamer's JSON list of the namespace holds
	// what cond looks for, so a change made while no stream was open has
	// reached the hub before a client resumes.
	seen := func(cond types.GomegaMatcher) {
		GinkgoHelper()
		Eventually(func(g Gomega) string {
			resp, body := get(url+"/api/v1/namespaces/"+ns+"/casts", bearer(token))
			g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
			return body
		}).Should(cond)
	}
	describe := func(m sse.Message) string {
		if m.Event == string(wire.KindSynced) {
			return m.Event
		}
		return m.Event + " " + snapshotOf(m).Name
	}

	for _, scope := range []struct {
		name string
		path func() string
	}{
		{"all namespaces", func() string { return "/api/v1/casts/events" }},
		{"a namespace", func() string { return "/api/v1/namespaces/" + ns + "/casts/events" }},
	} {
		It("sends only complete and deleted on "+scope.name+", live and on resume", func() {
			path := scope.path()
			running := createCast(ns, "running", nil)
			setStatus(running, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseRunning })
			done := createCast(ns, "done", nil)
			setStatus(done, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseSucceeded })
			seen(And(ContainSubstring(`"Running"`), ContainSubstring(`"Succeeded"`)))

			s := openStream(url+path+"?events=complete,deleted", bearer(token))
			Expect(describe(ours(s))).To(Equal("complete done"), "the initial state holds the finished Cast only")
			Expect(ours(s).Event).To(Equal("synced"))

			// A progress and a status change are not sent; the outcome
			// after them is the next event.
			setStatus(running, func(st *castv1alpha1.CastStatus) { st.Progress, st.Message = 40, "brewing" })
			setStatus(running, func(st *castv1alpha1.CastStatus) { st.RunID = 7 })
			setStatus(running, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseFailed })
			Expect(describe(ours(s))).To(Equal("complete running"))
			Expect(k8s.Delete(ctx, done)).To(Succeed())
			Expect(describe(ours(s))).To(Equal("deleted done"))
			last := s.parser.LastEventID()
			s.close()

			// While away: a new Cast runs and progresses (not asked for),
			// another finishes, the finished one is deleted.
			busy := createCast(ns, "busy", nil)
			setStatus(busy, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 10 })
			quick := createCast(ns, "quick", nil)
			setStatus(quick, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseSucceeded })
			Expect(k8s.Delete(ctx, running)).To(Succeed())
			seen(And(ContainSubstring(`"name":"busy"`), ContainSubstring(`"Succeeded"`), Not(ContainSubstring(`"name":"running"`))))

			h := bearer(token)
			h.Set("Last-Event-ID", last)
			resumed := openStream(url+path+"?events=complete,deleted", h)
			var got []string
			for m := ours(resumed); m.Event != string(wire.KindSynced); m = ours(resumed) {
				got = append(got, describe(m))
			}
			Expect(got).To(ConsistOf("complete quick", "deleted running"), "exactly the asked-for changes since the id, none twice")
		})
	}

	It("moves a filtered stream's resume point with its heartbeats, so a resume resends nothing it was not asked for", func() {
		a := createCast(ns, "ticking", nil)
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events?events=deleted", bearer(token))
		synced := s.nextOf(wire.KindSynced)
		setStatus(a, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 50 })
		cur := &castv1alpha1.Cast{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(a), cur)).To(Succeed())
		changed, _ := strconv.ParseInt(cur.ResourceVersion, 10, 64)
		Eventually(func() int64 {
			id, _ := strconv.ParseInt(s.parser.LastEventID(), 10, 64)
			return id
		}).Should(BeNumerically(">=", changed), "a heartbeat carries an id past the change it did not send")
		Consistently(s.events, "500ms").ShouldNot(Receive(), "the id moves without an event")
		last := s.parser.LastEventID()
		Expect(last).NotTo(Equal(synced.ID))
		s.close()

		h := bearer(token)
		h.Set("Last-Event-ID", last)
		h.Set("Accept", "text/event-stream")
		all := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events", h)
		m := all.next()
		Expect(m.Event).To(Equal("synced"), "nothing changed after the moved resume point")
		Expect(m.Data).To(Equal(`{"resumed":true}`))
	})

	It("filters one Cast's stream, and ends it on the outcome only when asked for outcomes", func() {
		c := createCast(ns, "one", nil)
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseRunning })
		seen(ContainSubstring(`"Running"`))
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/one/events?events=status,complete", bearer(token))
		Expect(describe(s.next())).To(Equal("status one"))
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Progress = 30 })
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.RunID = 9 })
		m := s.next()
		Expect(m.Event).To(Equal("status"), "the progress change is not sent")
		Expect(snapshotOf(m).RunID).To(BeEquivalentTo(9))
		last := s.parser.LastEventID()
		s.close()

		// While away it progresses (not asked for) and finishes.
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Progress = 60 })
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhaseSucceeded })
		seen(ContainSubstring(`"Succeeded"`))
		h := bearer(token)
		h.Set("Last-Event-ID", last)
		resumed := openStream(url+"/api/v1/namespaces/"+ns+"/casts/one/events?events=status,complete", h)
		Expect(describe(resumed.next())).To(Equal("complete one"))
		resumed.endsWithin(5 * time.Second)

		// A stream of deletions only is not ended by the outcome: it waits
		// for the deletion.
		gone := openStream(url+"/api/v1/namespaces/"+ns+"/casts/one/events?events=deleted", bearer(token))
		Consistently(gone.ended, "500ms").ShouldNot(Receive())
		Expect(k8s.Delete(ctx, c)).To(Succeed())
		Expect(describe(gone.next())).To(Equal("deleted one"))
		gone.endsWithin(5 * time.Second)
	})

	It("refuses an unknown event type with 400 naming it, on every scope", func() {
		createCast(ns, "x", nil)
		for _, path := range []string{"/api/v1/casts/events", "/api/v1/namespaces/" + ns + "/casts/events", "/api/v1/namespaces/" + ns + "/casts/x/events"} {
			resp, body := get(url+path+"?events=complete,finished", bearer(token))
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), path)
			Expect(resp.Header.Get("Content-Type")).NotTo(Equal("text/event-stream"))
			Expect(body).To(ContainSubstring(`unknown event type "finished"`), path)
		}
	})

	It("brings jobs and steps to clients live, as progress events", func() {
		c := createCast(ns, "steps", nil)
		start := metav1.NewTime(time.Now().Truncate(time.Second))
		job := func(second string) []castv1alpha1.JobStatus {
			return []castv1alpha1.JobStatus{{ID: 11, Name: "build", Status: "in_progress", StartedAt: &start,
				HTMLURL: "https://github.com/o/r/actions/runs/1/job/11", Labels: []string{"ubuntu-latest"},
				Steps: []castv1alpha1.StepStatus{
					{Number: 1, Name: "Set up job", Status: "completed", Conclusion: "success", StartedAt: &start, CompletedAt: &start},
					{Number: 2, Name: "Run tests", Status: second, StartedAt: &start}}}}
		}
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase, st.Jobs = castv1alpha1.PhaseRunning, job("queued") })
		seen(ContainSubstring(`"Run tests"`))
		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/steps/events?events=progress", bearer(token))
		setStatus(c, func(st *castv1alpha1.CastStatus) { st.Jobs = job("in_progress") })
		m := s.next()
		Expect(m.Event).To(Equal("progress"))
		jobs := snapshotOf(m).Jobs
		Expect(jobs).To(HaveLen(1))
		Expect(jobs[0].URL).To(Equal("https://github.com/o/r/actions/runs/1/job/11"))
		Expect(jobs[0].Steps).To(HaveLen(2))
		Expect(jobs[0].Steps[1].Name).To(Equal("Run tests"))
		Expect(jobs[0].Steps[1].Status).To(Equal("in_progress"))
		Expect(jobs[0].Steps[1].StartedAt.Equal(start.Time)).To(BeTrue())
	})
})
