package streamer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// post sends an action as the dashboard does: JSON body, the action
// header unless noHeader, and the given credentials.
func post(url string, header http.Header, body string, noHeader bool) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if !noHeader {
		req.Header.Set(wire.ActionHeader, wire.ActionHeaderValue)
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func actionsOf(url string, header http.Header) func(Gomega) wire.Actions {
	return func(g Gomega) wire.Actions {
		resp, body := get(url, header)
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK), body)
		var out wire.Actions
		g.Expect(json.Unmarshal([]byte(body), &out)).To(Succeed())
		return out
	}
}

func errorOf(body string) wire.Error {
	GinkgoHelper()
	var e wire.Error
	Expect(json.Unmarshal([]byte(body), &e)).To(Succeed(), body)
	return e
}

func castNow(c *castv1alpha1.Cast) *castv1alpha1.Cast {
	GinkgoHelper()
	got := &castv1alpha1.Cast{}
	Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(c), got)).To(Succeed())
	return got
}

var _ = Describe("Acting on a Cast with the caller's own token", func() {
	var url, ns, base, viewer, editor string
	var running *castv1alpha1.Cast
	BeforeEach(func() {
		url, _ = startStreamer(Options{RESTConfig: cfg})
		ns = newNamespace()
		viewer, editor = serviceAccountToken(ns, "viewer"), serviceAccountToken(ns, "editor")
		allow(ns, "viewer", ns, []string{"get", "list", "watch"})
		allow(ns, "editor", ns, []string{"get", "list", "watch", "patch"})
		running = createCast(ns, "running", nil)
		setStatus(running, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.RunID, st.RunAttempt = castv1alpha1.PhaseRunning, 7100, 2
		})
		base = url + "/api/v1/namespaces/" + ns + "/casts/"
	})

	It("shows a viewer no action and refuses theirs in words, leaving the Cast alone", func() {
		Eventually(actionsOf(base+"running/actions", bearer(viewer))).Should(Equal(wire.Actions{
			User:        "system:serviceaccount:" + ns + ":viewer",
			Cancel:      wire.Permission{Reason: "you may not change Casts in namespace " + ns},
			Rerun:       wire.Permission{Reason: "you may not change Casts in namespace " + ns},
			RerunFailed: wire.Permission{Reason: "you may not change Casts in namespace " + ns},
		}))
		code, body := post(base+"running/cancel", bearer(viewer), "", false)
		Expect(code).To(Equal(http.StatusForbidden), body)
		Expect(errorOf(body).Message).To(HavePrefix("you may not cancel Casts in namespace " + ns))
		Expect(castNow(running).Spec.Cancel).To(BeNil())
		Expect(logs.String()).To(ContainSubstring(`"action": "cancel", "namespace": "` + ns + `", "name": "running", "result": "Forbidden"`))
	})

	It("cancels an editor's running Cast as the editor, for the attempt the Cast is at", func() {
		Eventually(actionsOf(base+"running/actions", bearer(editor))).Should(HaveField("Cancel", wire.Permission{Allowed: true}))
		code, body := post(base+"running/cancel", bearer(editor), "", false)
		Expect(code).To(Equal(http.StatusOK), body)
		user := "system:serviceaccount:" + ns + ":editor"
		var res wire.ActionResult
		Expect(json.Unmarshal([]byte(body), &res)).To(Succeed())
		Expect(res).To(Equal(wire.ActionResult{Action: wire.ActionCancel, Namespace: ns, Name: "running", RequestedBy: user, Attempt: 2}))
		Expect(castNow(running).Spec.Cancel).To(Equal(&castv1alpha1.CancelRequest{RequestedBy: user, Attempt: 2}))
		Expect(logs.String()).To(ContainSubstring("cast action\t{\"user\": \"" + user + `", "action": "cancel", "namespace": "` + ns + `", "name": "running", "result": "Accepted"`))
	})

	It("refuses a POST without the action header, even with a valid session cookie (CSRF)", func() {
		resp, err := http.Post(url+"/api/v1/session", "application/json", strings.NewReader(`{"token":"`+editor+`"}`))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		cookie := http.Header{"Cookie": {resp.Cookies()[0].String()}}
		code, body := post(base+"running/cancel", cookie, "", true)
		Expect(code).To(Equal(http.StatusForbidden), body)
		Expect(errorOf(body).Reason).To(Equal("MissingHeader"))
		Expect(castNow(running).Spec.Cancel).To(BeNil())

		code, body = post(base+"running/cancel", cookie, "", false)
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(castNow(running).Spec.Cancel).NotTo(BeNil())
	})

	It("explains why a finished Cast cannot be cancelled, and re-runs its failed jobs", func() {
		failed := createCast(ns, "failed", nil)
		setStatus(failed, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.RunID, st.RunAttempt = castv1alpha1.PhaseFailed, 7200, 1
		})
		Eventually(actionsOf(base+"failed/actions", bearer(editor))).Should(Equal(wire.Actions{
			User:        "system:serviceaccount:" + ns + ":editor",
			Cancel:      wire.Permission{Reason: "the Cast already finished as Failed: there is nothing to cancel"},
			Rerun:       wire.Permission{Allowed: true},
			RerunFailed: wire.Permission{Allowed: true},
		}))
		code, body := post(base+"failed/cancel", bearer(editor), "", false)
		Expect(code).To(Equal(http.StatusUnprocessableEntity), body)
		Expect(errorOf(body)).To(Equal(wire.Error{Reason: "Invalid", Message: "the Cast already finished as Failed: there is nothing to cancel"}))

		code, body = post(base+"failed/rerun", bearer(editor), `{"failedOnly":true}`, false)
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(castNow(failed).Spec.Rerun).To(Equal(&castv1alpha1.RerunRequest{
			RequestedBy: "system:serviceaccount:" + ns + ":editor", AfterAttempt: 1, FailedOnly: true}))
	})

	It("refuses a re-run of a running Cast with the API server's words", func() {
		Eventually(actionsOf(base+"running/actions", bearer(editor))).Should(HaveField("Rerun.Allowed", BeFalse()))
		code, body := post(base+"running/rerun", bearer(editor), `{"failedOnly":false}`, false)
		Expect(code).To(Equal(http.StatusUnprocessableEntity), body)
		Expect(errorOf(body).Message).To(Equal("only a finished run can be re-run: cancel it first, or wait for it to finish"))
	})

	It("answers bad bodies, unknown Casts and a streamer without a REST config clearly", func() {
		code, body := post(base+"running/rerun", bearer(editor), `{"failedOnyl":true}`, false)
		Expect(code).To(Equal(http.StatusBadRequest), body)
		Expect(errorOf(body).Message).To(ContainSubstring(`unknown field "failedOnyl"`))
		code, body = post(base+"running/rerun", bearer(editor), `{"failedOnly":`+strings.Repeat(" ", 5000)+`true}`, false)
		Expect(code).To(Equal(http.StatusRequestEntityTooLarge), body)
		allow(ns, "editor", ns, []string{"get", "list", "watch", "patch"}, "gone")
		code, body = post(base+"gone/cancel", bearer(editor), "", false)
		Expect(code).To(Equal(http.StatusNotFound), body)
		Expect(errorOf(body).Message).To(Equal("cast " + ns + "/gone not found"))

		plain, _ := startStreamer(Options{})
		code, body = post(plain+"/api/v1/namespaces/"+ns+"/casts/running/cancel", bearer(editor), "", false)
		Expect(code).To(Equal(http.StatusNotImplemented), body)
		Expect(castNow(running).Spec.Cancel).To(BeNil())
	})
})

var _ = Describe("Acting on a Cast under the requester policy (config/policy)", func() {
	It("passes the policy: requestedBy is the name the API server itself gives the caller", func() {
		root, err := localcluster.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		policy := filepath.Join(root, "config", "policy", "requester.yaml")
		kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(kubeconfig, cluster.Env.KubeConfig, 0o600)).To(Succeed())
		out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "apply", "-f", policy).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		DeferCleanup(func() {
			out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "delete", "-f", policy).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(out))
		})

		url, _ := startStreamer(Options{RESTConfig: cfg})
		ns := newNamespace()
		editor := serviceAccountToken(ns, "editor")
		allow(ns, "editor", ns, []string{"get", "list", "watch", "patch"})
		c := createCast(ns, "running", nil)
		setStatus(c, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.RunID, st.RunAttempt = castv1alpha1.PhaseRunning, 7300, 1
		})

		By("waiting until the API server enforces the policy: the admin may not cancel in the editor's name")
		Eventually(func() error {
			got := castNow(c)
			patch := client.MergeFrom(got.DeepCopy())
			got.Spec.Cancel = &castv1alpha1.CancelRequest{RequestedBy: "system:serviceaccount:" + ns + ":editor", Attempt: 1}
			return k8s.Patch(context.Background(), got, patch, client.DryRunAll)
		}).Should(MatchError(ContainSubstring("requestedBy must name the user making the request")))

		By("cancelling through the streamer, which sends the editor's own token")
		code, body := post(url+"/api/v1/namespaces/"+ns+"/casts/running/cancel", bearer(editor), "", false)
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(castNow(c).Spec.Cancel).To(Equal(&castv1alpha1.CancelRequest{RequestedBy: "system:serviceaccount:" + ns + ":editor", Attempt: 1}))
	})
})
