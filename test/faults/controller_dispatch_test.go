package faults

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/ghapitest"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

var _ = Describe("Controller killed while dispatching", Label("controller", LabelLong), func() {
	It("twice, with dispatches hanging and runs not yet listed: every Cast is dispatched exactly once and converges", func(ctx SpecContext) {
		const n = 30
		op := newOperator()
		ns := newNamespace("dispatch-kill")
		// An older GitHub: dispatch answers 204 without the run, which
		// shows up in listings only after two more list calls. The first
		// dispatches hang, so a kill finds intents recorded but not sent.
		op.gh.WorkflowID(repository, "cast.yml")
		op.gh.SetDispatchMode(ghapitest.NoDetails)
		op.gh.SetListLag(2)
		op.gh.InjectFault(ghapitest.Fault{Method: http.MethodPost, PathContains: "/dispatches", Times: 3, Hang: true})
		op.start()
		keys := make([]client.ObjectKey, n)
		Expect(Group(n, 8, func(i int) error {
			c := kubetest.NewCast(ns, fmt.Sprintf("dispatch-%02d", i), 0)
			keys[i] = client.ObjectKeyFromObject(c)
			return k8s.Create(ctx, c)
		})).To(Succeed())

		dispatched := func() int { return len(op.gh.Dispatches()) }
		Eventually(dispatched).WithPolling(10 * time.Millisecond).Should(BeNumerically(">=", n/3))
		op.proc.Kill()
		kills := []time.Time{time.Now().UTC()}
		figure("dispatches answered at the first kill", dispatched())
		op.start()
		Eventually(dispatched).WithPolling(10 * time.Millisecond).Should(BeNumerically(">=", 2*n/3))
		op.proc.Kill()
		kills = append(kills, time.Now().UTC())
		figure("dispatches answered at the second kill", dispatched())
		op.start()
		restarted := time.Now()

		By("every Cast bound to a run (intents not sent wait out the 60 s dispatch grace)")
		var uids map[string]client.ObjectKey
		Eventually(func(g Gomega) {
			uids = map[string]client.ObjectKey{}
			for _, k := range keys {
				c := &castv1alpha1.Cast{}
				g.Expect(k8s.Get(ctx, k, c)).To(Succeed())
				g.Expect(c.Status.RunID).NotTo(BeZero(), "%s: %s", k.Name, c.Status.Message)
				uids[string(c.UID)] = k
			}
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		figure("all Casts bound to a run after the last restart", time.Since(restarted).Round(100*time.Millisecond).String())

		perCast := map[string][]string{}
		for _, d := range op.gh.Dispatches() {
			if d.Status < 300 {
				run, _ := op.gh.Run(d.RunID)
				perCast[d.Inputs["cast_id"]] = append(perCast[d.Inputs["cast_id"]],
					fmt.Sprintf("run %d created %s", d.RunID, run.CreatedAt.Format(time.TimeOnly)))
			}
		}
		for uid, k := range uids {
			Expect(perCast[uid]).To(HaveLen(1), "runs dispatched for %s (killed at %s and %s)", k.Name,
				kills[0].Format(time.TimeOnly), kills[1].Format(time.TimeOnly))
		}
		figure("dispatch requests in total (3 hung, never answered)", len(op.gh.Dispatches()))

		By("the runs finishing, seen by resync alone")
		for i, r := range op.gh.Runs() {
			op.gh.UpdateRun(r.ID, func(r *ghapitest.Run) { finishRun(r, conclusionOf(i)) })
		}
		Eventually(allFinishedAsRuns(ctx, op, keys)).WithTimeout(time.Minute).Should(Succeed())
	})
})

var _ = Describe("Controller killed right after a late dispatch", Label("controller", LabelLong), func() {
	It("does not dispatch again when the run is not listed yet: the grace counts from the last dispatch, not the first intent", func(ctx SpecContext) {
		op := newOperator()
		ns := newNamespace("dispatch-late")
		op.gh.WorkflowID(repository, "cast.yml") // the workflow exists, with no runs yet
		op.gh.SetDispatchMode(ghapitest.NoDetails)
		op.gh.SetListLag(2)
		op.gh.InjectFault(ghapitest.Fault{Method: http.MethodPost, PathContains: "/dispatches", Times: 1, Hang: true})
		ks := newKillSwitch(op.gh.URL)
		op.apiURL = ks.URL()

		By("the first process records the intent and dies while its dispatch hangs")
		op.start()
		Expect(k8s.Create(ctx, kubetest.NewCast(ns, "late", 0))).To(Succeed())
		key := client.ObjectKey{Namespace: ns, Name: "late"}
		Eventually(func() int { return len(postsTo(op, "/dispatches")) }).Should(Equal(1))
		op.proc.Kill()

		By("the second process waits out the grace, dispatches, and dies before recording the run")
		op.start()
		ks.arm(op.proc)
		Eventually(ks.fired).WithTimeout(2 * time.Minute).Should(BeClosed())

		By("the third process must find that run, not dispatch another")
		op.start()
		third := time.Now()
		Eventually(func(g Gomega) {
			c := &castv1alpha1.Cast{}
			g.Expect(k8s.Get(ctx, key, c)).To(Succeed())
			g.Expect(c.Status.RunID).NotTo(BeZero())
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		var runs []int64
		for _, d := range op.gh.Dispatches() {
			if d.Status < 300 {
				runs = append(runs, d.RunID)
			}
		}
		figure("the third process bound the Cast to its run after", time.Since(third).Round(time.Second).String())
		figure("runs dispatched for the Cast", len(runs))
		Expect(runs).To(HaveLen(1), "runs dispatched for one Cast")
	})
})

func postsTo(op *operator, suffix string) []ghapitest.Request {
	var out []ghapitest.Request
	for _, r := range op.gh.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// killSwitch is a proxy in front of the GitHub fake that, once armed,
// SIGKILLs the controller as soon as GitHub accepted a POST to a path
// ending in its suffix (a dispatch, a re-run) and before the controller
// reads the answer: the crash between asking and recording, on cue.
type killSwitch struct {
	srv   *httptest.Server
	fired chan struct{}
	mu    sync.Mutex
	proc  *Proc
}

func newKillSwitch(target string) *killSwitch { return newKillSwitchOn(target, "/dispatches") }

func newKillSwitchOn(target, suffix string) *killSwitch {
	GinkgoHelper()
	u, err := url.Parse(target)
	Expect(err).NotTo(HaveOccurred())
	ks := &killSwitch{fired: make(chan struct{})}
	proxy := &httputil.ReverseProxy{
		Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(u) },
		ErrorLog: log.New(GinkgoWriter, "github proxy: ", 0), // a killed controller cancels its requests
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodPost && strings.HasSuffix(resp.Request.URL.Path, suffix) && resp.StatusCode < 300 {
				ks.mu.Lock()
				p := ks.proc
				ks.proc = nil
				ks.mu.Unlock()
				if p != nil {
					p.Kill()
					close(ks.fired)
				}
			}
			return nil
		},
	}
	ks.srv = httptest.NewServer(proxy)
	DeferCleanup(ks.srv.Close)
	return ks
}

func (ks *killSwitch) URL() string { return ks.srv.URL + "/" }

// arm makes the next accepted dispatch kill p.
func (ks *killSwitch) arm(p *Proc) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.proc = p
}

// allFinishedAsRuns: every Cast in the phase of the run it is bound to.
func allFinishedAsRuns(ctx context.Context, op *operator, keys []client.ObjectKey) func(Gomega) {
	return func(g Gomega) {
		for _, k := range keys {
			c := &castv1alpha1.Cast{}
			g.Expect(k8s.Get(ctx, k, c)).To(Succeed())
			run, ok := op.gh.Run(c.Status.RunID)
			g.Expect(ok).To(BeTrue())
			g.Expect(c.Status.Phase).To(Equal(phaseFor(run.Conclusion)), k.Name)
		}
	}
}
