package streamer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// The streamer command's cache keeps hub.Trimmed objects, not Casts (the
// other specs share a cache of whole Casts with the rest of the suite):
// the informer's keys, namespace index, updates and deletions work on
// them, and streams and the JSON endpoints serve from them.
var _ = Describe("A streamer on a cache of trimmed Casts", func() {
	It("streams, lists and filters what the informer keeps as hub.Trimmed", func() {
		c, err := cache.New(cfg, cache.Options{Scheme: localcluster.Scheme(),
			ByObject: map[client.Object]cache.ByObject{&castv1alpha1.Cast{}: {Transform: hub.Trim}}})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		url := serve(c)
		go func() { _ = c.Start(ctx) }()
		Eventually(func() int { code, _ := fetchText(url + "/readyz"); return code }).Should(Equal(http.StatusOK))

		ns := newNamespace()
		token := serviceAccountToken(ns, "reader")
		allow(ns, "reader", ns, []string{"get", "list", "watch"})
		a := createCast(ns, "a", map[string]string{"team": "x"})
		createCast(ns, "b", map[string]string{"team": "y"})

		inf, err := c.GetInformer(ctx, &castv1alpha1.Cast{})
		Expect(err).NotTo(HaveOccurred())
		indexer := inf.(toolscache.SharedIndexInformer).GetIndexer()
		Eventually(func() ([]any, error) { return indexer.ByIndex(toolscache.NamespaceIndex, ns) }).Should(HaveLen(2))
		kept, found, err := indexer.GetByKey(ns + "/a")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(kept).To(BeAssignableToTypeOf(&hub.Trimmed{}))

		s := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events?labelSelector=team%3Dx", bearer(token))
		m := s.next()
		Expect(m.Event).To(Equal("status"))
		snap := snapshotOf(m)
		Expect(snap.Name).To(Equal("a"))
		Expect(snap.Labels).To(Equal(map[string]string{"team": "x"}))
		Expect(snap.Repository).To(Equal("spell-platform/spells"))
		Expect(m.ID).To(Equal(snap.ResourceVersion))
		synced := s.nextOf(wire.KindSynced)

		setStatus(a, func(st *castv1alpha1.CastStatus) { st.Phase, st.Progress = castv1alpha1.PhaseRunning, 30 })
		m = s.next()
		Expect(m.Event).To(Equal("status"))
		Expect(snapshotOf(m).Progress).To(BeEquivalentTo(30))

		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/namespaces/"+ns+"/casts", nil)
		req.Header = bearer(token)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var list struct{ Items []wire.Snapshot }
		Expect(json.Unmarshal(body, &list)).To(Succeed(), string(body))
		Expect(list.Items).To(HaveLen(2))
		Expect(list.Items[0].Name).To(Equal("a"))
		Expect(list.Items[0].Status).To(Equal(castv1alpha1.PhaseRunning))

		Expect(k8s.Delete(ctx, a)).To(Succeed())
		m = s.next()
		Expect(m.Event).To(Equal("deleted"))
		Expect(snapshotOf(m).Status).To(Equal(castv1alpha1.PhaseRunning))

		// A resume from the synced event gets exactly what followed it.
		r := openStream(url+"/api/v1/namespaces/"+ns+"/casts/events?labelSelector=team%3Dx",
			http.Header{"Authorization": {"Bearer " + token}, "Last-Event-ID": {synced.ID}})
		m = r.next()
		Expect(m.Event).To(Equal("deleted"))
		Expect(snapshotOf(m).Name).To(Equal("a"))
		Expect(r.next().Event).To(Equal("synced"))
	})
})
