package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// auditEvent is what the spec reads of one line of kube-apiserver's audit log.
type auditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// patchesOf are the audit log's patches of Cast ns/name.
func patchesOf(ns, name string) ([]auditEvent, error) {
	f, err := os.Open(auditLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var ev auditEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Verb == "patch" && ev.ObjectRef.Resource == "casts" && ev.ObjectRef.Namespace == ns && ev.ObjectRef.Name == name {
			out = append(out, ev)
		}
	}
	return out, sc.Err()
}

// buttons are the ids of the action buttons the detail view shows.
func (b *browser) buttons() ([]string, error) {
	return eval[[]string](b, `[...document.querySelectorAll('#detail-actions button')]
  .filter((e) => !e.hidden && e.getClientRects().length > 0).map((e) => e.id)`)
}

var _ = Describe("Cancel and re-run in the dashboard", func() {
	It("shows a viewer no buttons; an editor cancels a running Cast as themselves and sees it Cancelled live", func() {
		ns := newNamespace()
		viewer, editor := serviceAccountToken(ns, "viewer"), serviceAccountToken(ns, "editor")
		allowReading(ns, "viewer")
		Expect(kubetest.Allow(context.Background(), kube, kubetest.Grant{Namespace: ns,
			ServiceAccount: client.ObjectKey{Namespace: ns, Name: "editor"},
			Verbs:          append(append([]string{}, kubetest.ReadVerbs...), "patch")})).To(Succeed())
		deploy := createCast(ns, "deploy-prod", repo, "deploy.yml", func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseRunning, 30, "Rolling out (1/3)"
			st.RunID, st.RunAttempt, st.RunURL = 9300, 1, "https://github.com/"+repo+"/actions/runs/9300"
			st.StartedAt = &metav1.Time{Time: time.Now().Add(-time.Minute)}
		})
		// The streamer has the test's connection to the API server, an
		// admin's: were it to act with its own credentials, the audit
		// log would name the admin, not the editor.
		front := startFront(startStreamer(func(o *streamer.Options) { o.RESTConfig = cluster.Config }))
		actionsPath := "/api/v1/namespaces/" + ns + "/casts/deploy-prod/actions"
		detailURL := front.url + "/#/namespaces/" + ns + "/casts/deploy-prod"

		By("showing a viewer the detail without buttons")
		b := openBrowser()
		b.do(chromedp.Navigate(detailURL))
		b.signIn(viewer)
		Eventually(b.detail).Should(And(HaveField("Visible", true), HaveField("Stream", "live")))
		Eventually(func() int { return front.requests("GET", actionsPath) }).Should(BeNumerically(">=", 1))
		Consistently(b.buttons, "1s").Should(BeEmpty())
		Expect(b.visible("detail-actions")()).To(BeFalse())

		By("showing an editor Cancel, but no re-run of a running Cast")
		e := openBrowser()
		e.do(chromedp.Navigate(detailURL))
		e.signIn(editor)
		Eventually(e.buttons).Should(HaveExactElements("action-cancel"))

		By("asking for confirmation, which Escape dismisses with nothing changed")
		e.do(chromedp.Click(chromedp.CSS("#action-cancel")))
		Eventually(func() (bool, error) { return eval[bool](e, `document.getElementById('confirm-dialog').open`) }).Should(BeTrue())
		Expect(mustEval[string](e, `document.activeElement.id`)).To(Equal("confirm-keep"), "the safe choice has the focus")
		Expect(e.text("confirm-text")()).To(Equal("The run of deploy-prod (attempt 1) stops on GitHub. The Cast is kept, and ends Cancelled."))
		e.do(chromedp.KeyEvent(kb.Escape))
		Eventually(func() (bool, error) { return eval[bool](e, `document.getElementById('confirm-dialog').open`) }).Should(BeFalse())
		Expect(e.detail()).To(HaveField("Visible", true), "Escape closed the dialog, not the detail view")
		Expect(castNow(deploy).Spec.Cancel).To(BeNil())

		By("cancelling once confirmed, also when asked again before the last close event arrived: the API server gets the editor's patch")
		e.do(chromedp.Click(chromedp.CSS("#action-cancel")))
		Eventually(func() (bool, error) { return eval[bool](e, `document.getElementById('confirm-dialog').open`) }).Should(BeTrue())
		// Keep, then Cancel again in the same task: the close event of the
		// first question is dispatched while the second one is open.
		Expect(mustEval[bool](e, `document.getElementById('confirm-keep').click(); document.getElementById('action-cancel').click(); true`)).To(BeTrue())
		Eventually(func() (bool, error) { return eval[bool](e, `document.getElementById('confirm-dialog').open`) }).Should(BeTrue())
		e.do(chromedp.Click(chromedp.CSS("#confirm-ok")))
		editorName := "system:serviceaccount:" + ns + ":editor"
		Eventually(func() *castv1alpha1.CancelRequest { return castNow(deploy).Spec.Cancel }).Should(
			Equal(&castv1alpha1.CancelRequest{RequestedBy: editorName, Attempt: 1}))
		Eventually(e.toasts).Should(ContainElement("Cancel requested for deploy-prod."))

		By("seeing the controller's answer arrive live, and the button go")
		setStatus(deploy, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Message = castv1alpha1.PhaseCancelled, "run 9300 cancelled at the request of "+editorName
			st.FinishedAt = &metav1.Time{Time: time.Now()}
		})
		Eventually(e.detail).Should(And(HaveField("Phase", ContainSubstring("Cancelled")),
			HaveField("Message", "run 9300 cancelled at the request of "+editorName)))
		Eventually(e.buttons).Should(HaveExactElements("action-rerun", "action-rerun-failed"), "a cancelled run can be re-run")
		Expect(e.visible("action-alert")()).To(BeFalse())

		By("explaining in words a re-run the API server refuses: the run started again meanwhile")
		e.do(chromedp.Click(chromedp.CSS("#action-rerun")))
		Eventually(func() (bool, error) { return eval[bool](e, `document.getElementById('confirm-dialog').open`) }).Should(BeTrue())
		setStatus(deploy, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.RunAttempt, st.Message, st.FinishedAt = castv1alpha1.PhaseRunning, 2, "Attempt 2 started on GitHub", nil
		})
		Eventually(e.detail).Should(HaveField("Message", "Attempt 2 started on GitHub"))
		e.do(chromedp.Click(chromedp.CSS("#confirm-ok")))
		Eventually(e.text("action-alert")).Should(Equal("only a finished run can be re-run: cancel it first, or wait for it to finish"))
		Eventually(e.buttons).Should(HaveExactElements("action-cancel"))
		Expect(castNow(deploy).Spec.Rerun).To(BeNil())
		Expect(e.cspViolations()).To(BeEmpty())

		By("finding the editor, not the streamer, in the API server's audit log")
		Eventually(func() ([]auditEvent, error) { return patchesOf(ns, "deploy-prod") }).Should(ContainElement(And(
			HaveField("User.Username", editorName), HaveField("ImpersonatedUser", BeNil()), HaveField("ResponseStatus.Code", 200))))
		patches, err := patchesOf(ns, "deploy-prod")
		Expect(err).NotTo(HaveOccurred())
		for _, p := range patches {
			Expect(p.User.Username).To(Equal(editorName), "every patch of the Cast is the editor's")
		}
	})
})

// castNow reads the Cast straight from the API server.
func castNow(c *castv1alpha1.Cast) *castv1alpha1.Cast {
	GinkgoHelper()
	got := &castv1alpha1.Cast{}
	Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(c), got)).To(Succeed())
	return got
}
