package faults

import (
	"context"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	streamclient "github.com/spell-platform/cast-operator/streamer/client"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

var nsCounter int

// newNamespace creates a namespace of the spec's own and, when the spec
// ends, deletes its Casts (finalizers included: the controller that would
// remove them may be gone), so no later spec's controller picks them up.
func newNamespace(prefix string) string {
	GinkgoHelper()
	nsCounter++
	ns := fmt.Sprintf("%s-%d", prefix, nsCounter)
	Expect(kubetest.EnsureNamespace(context.Background(), kube, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		var list castv1alpha1.CastList
		Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		for i := range list.Items {
			c := &list.Items[i]
			if controllerutil.RemoveFinalizer(c, "spell.dev/cancel-run") {
				_ = k8s.Update(ctx, c)
			}
			_ = client.IgnoreNotFound(k8s.Delete(ctx, c))
		}
	})
	return ns
}

// streamerFlags let 200 clients of one identity in: the defaults (10
// streams, 100 requests a minute per user) are for people, not for a
// fleet sharing a token. Short heartbeats let clients notice dead
// connections within seconds.
var streamerFlags = []string{
	"--max-streams-per-user", "1000", "--user-requests-per-minute", "100000",
	"--heartbeat-interval", "1s",
}

// startStreamer runs a streamer subprocess on addr until the spec ends.
func startStreamer(addr string, extra ...string) *Proc {
	GinkgoHelper()
	p, err := StartStreamer(StreamerConfig{Binary: binary, Kubeconfig: kubeconfig, Addr: addr,
		LogPath: logPath("streamer"), Args: append(append([]string(nil), streamerFlags...), extra...)})
	Expect(err).NotTo(HaveOccurred())
	stopOnCleanup(p)
	return p
}

func freeAddr() string {
	GinkgoHelper()
	addr, err := FreeAddr()
	Expect(err).NotTo(HaveOccurred())
	return addr
}

// viewerToken returns a token allowed to stream the namespace.
func viewerToken(ctx context.Context, ns string) string {
	GinkgoHelper()
	tok, err := kubetest.Viewer(ctx, kube, ns, "viewer")
	Expect(err).NotTo(HaveOccurred())
	return tok
}

// watchers opens n namespace subscriptions with the Go client, retrying
// fast so a test's outage is measured in seconds.
func watchers(ctx context.Context, server, token, ns string, n int) []*Watcher {
	GinkgoHelper()
	c, err := streamclient.New(streamclient.Options{Server: server, Token: token,
		InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, HeartbeatTimeout: 5 * time.Second,
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, ResponseHeaderTimeout: 10 * time.Second}}})
	Expect(err).NotTo(HaveOccurred())
	ws := make([]*Watcher, n)
	for i := range ws {
		ws[i], err = Watch(ctx, c, streamclient.Scope{Namespace: ns})
		Expect(err).NotTo(HaveOccurred())
	}
	DeferCleanup(func() {
		for _, w := range ws {
			w.Close()
		}
	})
	return ws
}

// createPendingCasts creates n Casts (no controller runs in streamer
// specs) with phase Pending, as the controller's first reconcile leaves
// them.
func createPendingCasts(ctx context.Context, ns string, n int) []client.ObjectKey {
	GinkgoHelper()
	keys := make([]client.ObjectKey, n)
	Expect(Group(n, 8, func(i int) error {
		c := kubetest.NewCast(ns, fmt.Sprintf("cast-%03d", i), 0)
		if err := k8s.Create(ctx, c); err != nil {
			return err
		}
		keys[i] = client.ObjectKeyFromObject(c)
		_, err := kubetest.SetStatus(ctx, k8s, keys[i], func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Message = castv1alpha1.PhasePending, "waiting to dispatch cast.yml"
		})
		return err
	})).To(Succeed())
	return keys
}

// runningFollowed creates n Casts in ns, moves them to Running, and opens
// clients subscriptions to ns through server; it returns once every client
// holds every Cast: the starting point of the streamer outage specs.
func runningFollowed(ctx context.Context, server, token, ns string, clients, n int) ([]client.ObjectKey, []*Watcher) {
	GinkgoHelper()
	keys := createPendingCasts(ctx, ns, n)
	drive(ctx, keys, 0, n, false)
	ws := watchers(ctx, server, token, ns, clients)
	Eventually(converged(ws, finalStates(ctx, ns))).Should(Succeed())
	return keys, ws
}

var finalPhases = []castv1alpha1.CastPhase{castv1alpha1.PhaseSucceeded, castv1alpha1.PhaseFailed, castv1alpha1.PhaseCancelled}

// drive moves the Casts keys[from:to] as the controller would: Running
// with some progress, or to a terminal phase chosen by index.
func drive(ctx context.Context, keys []client.ObjectKey, from, to int, terminal bool) {
	GinkgoHelper()
	Expect(Group(to-from, 8, func(i int) error {
		i += from
		_, err := kubetest.SetStatus(ctx, k8s, keys[i], func(st *castv1alpha1.CastStatus) {
			now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
			if st.StartedAt == nil {
				st.StartedAt = &now
			}
			if !terminal {
				st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, st.Progress+25, "cast: Brew"
				return
			}
			st.Phase, st.FinishedAt = finalPhases[i%len(finalPhases)], &now
			st.Message = "run finished as " + string(st.Phase)
			if st.Phase == castv1alpha1.PhaseSucceeded {
				st.Progress = 100
			}
		})
		return err
	})).To(Succeed())
}

// finalStates reads what every client must end up holding.
func finalStates(ctx context.Context, ns string) []Want {
	GinkgoHelper()
	var list castv1alpha1.CastList
	Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	want := make([]Want, 0, len(list.Items))
	for _, c := range list.Items {
		want = append(want, Want{CastID: c.Namespace + "/" + c.Name, ResourceVersion: c.ResourceVersion,
			Phase: string(c.Status.Phase), Progress: c.Status.Progress})
	}
	return want
}

// converged checks that every watcher is still subscribed and holds want;
// use it with Eventually(...).Should(Succeed()).
func converged(ws []*Watcher, want []Want) func(Gomega) {
	return func(g Gomega) {
		for i, w := range ws {
			if ended, err := w.Ended(); ended {
				// A subscription that gave up will not come back.
				StopTrying(fmt.Sprintf("client %d gave up: %v", i, err)).Now()
			}
			_, _, back := w.Counts()
			g.Expect(back).To(BeZero(), "client %d was sent an older state after a newer one", i)
		}
		ok, diffs := Mismatches(ws, want, 3)
		g.Expect(ok).To(Equal(len(ws)), "%d/%d clients hold every final state; e.g. %v", ok, len(ws), diffs)
	}
}

// figure records a measured number in the spec report (and so in the
// output of -v runs), for docs/reliability.md.
func figure(name string, value any) {
	AddReportEntry(name, value, ReportEntryVisibilityAlways)
}

// sample is one answer of a polled URL, and when it was asked.
type sample struct {
	at   time.Time
	code int
}

// poll asks url every interval until d has passed since start.
func poll(url string, start time.Time, d, interval time.Duration) []sample {
	var out []sample
	for time.Since(start) < d {
		out = append(out, sample{at: time.Now(), code: statusOf(url)})
		time.Sleep(interval)
	}
	return out
}

// codes lists the status codes of samples asked at or after from.
func codes(samples []sample, from time.Time) []int {
	var out []int
	for _, s := range samples {
		if !s.at.Before(from) {
			out = append(out, s.code)
		}
	}
	return out
}
