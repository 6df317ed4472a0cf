package streamer

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// testStream reads a live stream with the spec parser in the background,
// the way an EventSource does.
type testStream struct {
	resp     *http.Response
	parser   *sse.Parser
	events   chan sse.Message
	comments chan string
	ended    chan error
	cancel   context.CancelFunc
}

func openStream(url string, header http.Header) *testStream {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		Fail("stream refused: " + resp.Status + ": " + string(body))
	}
	s := &testStream{resp: resp, events: make(chan sse.Message, 10000), comments: make(chan string, 1000),
		ended: make(chan error, 1), cancel: cancel}
	s.parser = sse.NewParser(bufio.NewReader(resp.Body))
	s.parser.OnComment(func(c string) {
		select {
		case s.comments <- c:
		default:
		}
	})
	go func() {
		for {
			m, err := s.parser.Next()
			if err != nil {
				s.ended <- err
				return
			}
			s.events <- m
		}
	}()
	DeferCleanup(s.close)
	return s
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func (s *testStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event, failing if none comes in time.
func (s *testStream) next() sse.Message {
	GinkgoHelper()
	var m sse.Message
	Eventually(s.events).Should(Receive(&m))
	return m
}

// nextOf skips events until one of the given type arrives.
func (s *testStream) nextOf(kind wire.Kind) sse.Message {
	GinkgoHelper()
	for {
		if m := s.next(); m.Event == string(kind) {
			return m
		}
	}
}

// endsWithin asserts the server closed the stream.
func (s *testStream) endsWithin(d time.Duration) {
	GinkgoHelper()
	Eventually(s.ended, d).Should(Receive(Equal(io.EOF)))
}

func snapshotOf(m sse.Message) wire.Snapshot {
	GinkgoHelper()
	var snap wire.Snapshot
	Expect(json.Unmarshal([]byte(m.Data), &snap)).To(Succeed(), m.Data)
	return snap
}

func createCast(ns, name string, lbls map[string]string) *castv1alpha1.Cast {
	GinkgoHelper()
	c := &castv1alpha1.Cast{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Spec:       castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml"},
	}
	Expect(k8s.Create(context.Background(), c)).To(Succeed())
	setStatus(c, func(st *castv1alpha1.CastStatus) { st.Phase = castv1alpha1.PhasePending })
	return c
}

// setStatus writes status as the controller would, through the
// subresource, retrying on conflicts.
func setStatus(c *castv1alpha1.Cast, mutate func(*castv1alpha1.CastStatus)) {
	GinkgoHelper()
	Eventually(func() error {
		cur := &castv1alpha1.Cast{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(c), cur); err != nil {
			return err
		}
		mutate(&cur.Status)
		return k8s.Status().Update(context.Background(), cur)
	}).Should(Succeed())
}
