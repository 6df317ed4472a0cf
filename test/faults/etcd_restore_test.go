package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
	"github.com/spell-platform/cast-operator/test/ghapitest"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// An etcd restore from a snapshot takes the API server's history back:
// Casts changed since come back with their older states and
// resourceVersions, deleted ones come back, created ones vanish, and the
// ids the streamer handed out after the snapshot mean nothing any more. The spec takes a snapshot
// with etcdctl, changes and deletes Casts, stops the kube-apiserver and
// etcd, restores with etcdutl (both built by hack/build-envtest.sh from
// the etcd release envtest runs) and starts both again. The streamer and
// the controller keep running throughout, as they would in a cluster.
var _ = Describe("etcd restored from a snapshot", Label("streamer", "controller", "apiserver", LabelLong), func() {
	It("takes every client back to the restored state, and the controller dispatches nothing twice", func(ctx SpecContext) {
		const clients = 10
		ns := newNamespace("etcd-restore")
		token := viewerToken(ctx, ns)
		op := newOperator()
		op.gh.WorkflowID(repository, "cast.yml")
		op.start()
		addr := freeAddr()
		str := startStreamer(addr)
		url := "http://" + addr

		By("four Casts dispatched, one of them finished")
		keys := make([]client.ObjectKey, 4)
		for i := range keys {
			c := kubetest.NewCast(ns, fmt.Sprintf("before-%d", i), 0)
			Expect(k8s.Create(ctx, c)).To(Succeed())
			keys[i] = client.ObjectKeyFromObject(c)
		}
		Eventually(func(g Gomega) {
			for _, k := range keys {
				g.Expect(castOf(ctx, g, k).Status.RunID).NotTo(BeZero())
			}
		}).Should(Succeed())
		finished := keys[3]
		op.gh.UpdateRun(castOf(ctx, Default, finished).Status.RunID, func(r *ghapitest.Run) { finishRun(r, "success") })
		Eventually(func() castv1alpha1.CastPhase { return castOf(ctx, Default, finished).Status.Phase }).Should(Equal(castv1alpha1.PhaseSucceeded))
		ws := watchers(ctx, url, token, ns, clients)
		Eventually(restored(ws, ns, nil)).Should(Succeed())

		By("a snapshot, then changes it will not hold")
		etcd, err := FindEtcd(testEnv.ControlPlane.Etcd.URL.String())
		Expect(err).NotTo(HaveOccurred())
		snapshot := filepath.Join(GinkgoT().TempDir(), "etcd.db")
		etcdTool(etcd, "etcdctl", "--endpoints", testEnv.ControlPlane.Etcd.URL.String(), "snapshot", "save", snapshot)
		atSnapshot := map[string]string{} // Cast name -> its message in the snapshot
		for _, k := range keys {
			atSnapshot[k.Name] = castOf(ctx, Default, k).Status.Message
		}
		uids := map[string]string{}
		for _, k := range keys {
			uids[string(castOf(ctx, Default, k).UID)] = k.Name
		}

		// Finished: the controller leaves it alone, so only the restore
		// can take this message back.
		_, err = kubetest.SetStatus(ctx, k8s, finished, func(st *castv1alpha1.CastStatus) { st.Message = "edited after the snapshot" })
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Delete(ctx, castOf(ctx, Default, keys[0]))).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, keys[0], &castv1alpha1.Cast{})) }).Should(BeTrue())
		late := kubetest.NewCast(ns, "after-snapshot", 0)
		Expect(k8s.Create(ctx, late)).To(Succeed())
		Eventually(func() int64 { return castOf(ctx, Default, client.ObjectKeyFromObject(late)).Status.RunID }).ShouldNot(BeZero())
		Eventually(restored(ws, ns, nil)).Should(Succeed())
		// An id from the history the restore takes away, for a client that
		// resumes from it.
		lostID := highestRV(ctx, ns)
		syncedBefore := make([]int, len(ws))
		for i, w := range ws {
			_, syncedBefore[i], _ = w.Counts()
		}
		dispatched := len(op.gh.Dispatches())
		figure("dispatches before the restore", dispatched)

		By("stopping the kube-apiserver and etcd, restoring etcd from the snapshot")
		api, _ := stopAPIServer()
		killEtcd()
		restoreEtcd(etcd, snapshot)
		started := time.Now()
		startEtcd(etcd)
		startAPIServer(api)
		Eventually(func() error {
			return k8s.List(ctx, &castv1alpha1.CastList{}, client.InNamespace(ns))
		}).WithTimeout(2 * time.Minute).Should(Succeed())
		back := time.Now()
		figure("etcd restored and kube-apiserver serving again", back.Sub(started).Round(100*time.Millisecond).String())
		Expect(castOf(ctx, Default, keys[0]).Name).To(Equal(keys[0].Name), "the deleted Cast is back")
		Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(late), &castv1alpha1.Cast{}))).To(BeTrue(), "the Cast created after the snapshot is gone")
		Expect(castOf(ctx, Default, finished).Status.Message).To(Equal(atSnapshot[finished.Name]))

		By("every connected client converges to the restored state")
		Eventually(restored(ws, ns, []string{late.Name})).WithTimeout(2 * time.Minute).Should(Succeed())
		figure("all connected clients hold the restored state, after the kube-apiserver was back", time.Since(back).Round(10*time.Millisecond).String())
		for i, w := range ws {
			ev, _ := w.Last(ns + "/" + finished.Name)
			Expect(ev.Cast.Message).To(Equal(atSnapshot[finished.Name]), "client %d", i)
			_, synced, _ := w.Counts()
			Expect(synced).To(BeNumerically(">", syncedBefore[i]), "client %d got no new snapshot: its stream stayed silent", i)
		}

		By("a client resuming from an id of the lost history gets a full snapshot")
		resumed, states := resume(ctx, url, token, ns, lostID)
		Expect(resumed).To(BeFalse(), "synced must say resumed: false")
		want := currentCasts(ctx, ns)
		Expect(states).To(HaveLen(len(want)))
		for name, rv := range want {
			Expect(states).To(HaveKeyWithValue(name, rv))
		}
		m, err := Scrape(str.MetricsURL)
		Expect(err).NotTo(HaveOccurred())
		Expect(m["cast_streamer_history_rebases_total"]).To(BeNumerically(">=", 1))
		figure("streamer rebases (history went back)", m["cast_streamer_history_rebases_total"])

		By("the controller dispatches none of the Casts it had dispatched before the snapshot again")
		Consistently(func(g Gomega) {
			perCast := map[string]int{}
			for _, d := range op.gh.Dispatches() {
				if name, ok := uids[d.Inputs["cast_id"]]; ok {
					perCast[name]++
				}
			}
			for _, name := range uids {
				g.Expect(perCast[name]).To(Equal(1), "dispatches of %s", name)
			}
		}).WithTimeout(4 * resync).Should(Succeed())
		figure("dispatches after the restore", len(op.gh.Dispatches())-dispatched)
	})
})

// castOf reads a Cast through g (Default outside Eventually).
func castOf(ctx context.Context, g Gomega, key client.ObjectKey) *castv1alpha1.Cast {
	c := &castv1alpha1.Cast{}
	g.Expect(k8s.Get(ctx, key, c)).To(Succeed())
	return c
}

// currentCasts maps each Cast of ns to its resourceVersion.
func currentCasts(ctx context.Context, ns string) map[string]string {
	GinkgoHelper()
	var list castv1alpha1.CastList
	Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]string{}
	for _, c := range list.Items {
		out[c.Name] = c.ResourceVersion
	}
	return out
}

func highestRV(ctx context.Context, ns string) string {
	GinkgoHelper()
	var top int64
	for _, rv := range currentCasts(ctx, ns) {
		n, err := strconv.ParseInt(rv, 10, 64)
		Expect(err).NotTo(HaveOccurred())
		top = max(top, n)
	}
	return strconv.FormatInt(top, 10)
}

// restored checks that every watcher holds every Cast of ns as the API
// server has it now, and the named Casts as deleted. Unlike converged, it
// allows states older than ones delivered before: that is what a restore
// is.
func restored(ws []*Watcher, ns string, gone []string) func(Gomega) {
	return func(g Gomega) {
		want := finalStates(context.Background(), ns)
		for i, w := range ws {
			ended, err := w.Ended()
			g.Expect(ended).To(BeFalse(), "client %d gave up: %v", i, err)
			for _, name := range gone {
				ev, ok := w.Last(ns + "/" + name)
				g.Expect(ok && ev.Type == wire.KindDeleted).To(BeTrue(), "client %d still shows %s", i, name)
			}
		}
		ok, diffs := Mismatches(ws, want, 3)
		g.Expect(ok).To(Equal(len(ws)), "%d/%d clients hold the API server's state; e.g. %v", ok, len(ws), diffs)
	}
}

// resume opens a raw stream of ns with Last-Event-ID lastID, reads it up
// to synced, and returns synced's "resumed" and the states sent (name ->
// resourceVersion).
func resume(ctx context.Context, url, token, ns, lastID string) (bool, map[string]string) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/namespaces/"+ns+"/casts/events", nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	p := sse.NewParser(resp.Body)
	states := map[string]string{}
	for {
		m, err := p.Next()
		Expect(err).NotTo(HaveOccurred(), "the stream ended before synced: silent")
		if m.Event == string(wire.KindSynced) {
			var d struct{ Resumed bool }
			Expect(json.Unmarshal([]byte(m.Data), &d)).To(Succeed())
			return d.Resumed, states
		}
		var snap wire.Snapshot
		Expect(json.Unmarshal([]byte(m.Data), &snap)).To(Succeed())
		states[snap.Name] = snap.ResourceVersion
	}
}

// etcdTool runs etcdctl or etcdutl, which hack/build-envtest.sh builds
// next to the etcd binary (make envtest, a dependency of make
// test-faults).
func etcdTool(etcd FoundProcess, name string, args ...string) {
	GinkgoHelper()
	bin := filepath.Join(filepath.Dir(etcd.Args[0]), name)
	_, err := os.Stat(bin)
	Expect(err).NotTo(HaveOccurred(), "%s is built by `make envtest` (hack/build-envtest.sh) next to etcd", name)
	out, err := exec.Command(bin, args...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s %v: %s", name, args, out)
}

// restoreEtcd replaces the stopped etcd's data directory by the snapshot,
// restored as the same single member.
func restoreEtcd(etcd FoundProcess, snapshot string) {
	GinkgoHelper()
	dir := etcd.Flag("data-dir")
	Expect(dir).NotTo(BeEmpty())
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(etcd.Dir, dir)
	}
	name := etcd.Flag("name")
	if name == "" {
		name = "default"
	}
	peer := etcd.Flag("initial-advertise-peer-urls")
	if peer == "" {
		peer = "http://localhost:2380"
	}
	Expect(os.Rename(dir, dir+".lost")).To(Succeed())
	DeferCleanup(os.RemoveAll, dir+".lost")
	// As Kubernetes documents the restore: the revision bumped past any
	// the lost history handed out, and marked compacted, so that every
	// watch (the streamer's, the controller's) gets 410 Gone and relists.
	// Without it a watch resumes in the new history from an id of the
	// lost one, and no informer ever learns what the restore changed.
	etcdTool(etcd, "etcdutl", "snapshot", "restore", snapshot, "--data-dir", dir,
		"--name", name, "--initial-cluster", name+"="+peer, "--initial-advertise-peer-urls", peer,
		"--bump-revision", "1000000000", "--mark-compacted")
}
