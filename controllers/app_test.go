package controllers

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/test/ghapitest"
)

// GitHub Apps as an organization installs them: the operator's own App on
// spell-platform, a team's App (in a Secret, Flux's keys) on team-b, and a
// read-only App on readonly-org.
const (
	operatorApp, operatorInstallation = 801, 8101
	teamApp, teamInstallation         = 802, 8201
	readOnlyApp, readOnlyInstallation = 803, 8301
)

func appSecret(name string, data map[string]string) *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, StringData: data}
	Expect(k8s.Create(ctx, s)).To(Succeed())
	return s
}

func withSecret(name, repository string) func(*castv1alpha1.Cast) {
	return func(c *castv1alpha1.Cast) {
		c.Spec.Repository = repository
		c.Spec.CredentialsSecretRef = &castv1alpha1.SecretReference{Name: name}
	}
}

// identityOfDispatch is whose book GitHub charged the Cast's dispatch to.
func identityOfDispatch(c *castv1alpha1.Cast) string {
	for _, r := range fakeGitHub.Requests() {
		if strings.HasSuffix(r.Path, "/dispatches") && strings.Contains(string(r.Body), string(c.UID)) && r.Status < 300 {
			return r.Identity
		}
	}
	return ""
}

func accessProblem(c *castv1alpha1.Cast, reason string, says ...string) {
	GinkgoHelper()
	matchers := []OmegaMatcher{Not(BeNil()), HaveField("Status", metav1.ConditionFalse), HaveField("Reason", reason),
		HaveField("Message", ContainSubstring(c.Spec.Repository))}
	for _, s := range says {
		matchers = append(matchers, HaveField("Message", ContainSubstring(s)))
	}
	Eventually(func(g Gomega) *metav1.Condition { return accessCondition(fetch(c)(g)) }).Should(And(matchers...))
	Eventually(eventReasons(c)).Should(ContainElement(reason))
	got := fetch(c)(Default)
	Expect(got.Status.RunID).To(BeZero())
	Expect(got.Status.Phase).To(Equal(castv1alpha1.PhasePending), "a credential problem waits for a fix, it does not fail the Cast")
	// Refused when the client was built, or when the dispatch was about to
	// go: either way nothing was dispatched and the condition says why.
	Expect(dispatchedCondition(got)).To(And(HaveField("Status", metav1.ConditionFalse),
		HaveField("Reason", BeElementOf(reason, ReasonDispatching))))
}

var _ = Describe("GitHub App credentials", Ordered, func() {
	var operatorKey, teamKey, readOnlyKey []byte

	BeforeAll(func() {
		for _, app := range []struct {
			id, installation int64
			owner            string
			perms            map[string]string
			key              *[]byte
		}{
			{operatorApp, operatorInstallation, "spell-platform", nil, &operatorKey},
			{teamApp, teamInstallation, "team-b", nil, &teamKey},
			{readOnlyApp, readOnlyInstallation, "readonly-org", map[string]string{"actions": "read", "metadata": "read"}, &readOnlyKey},
		} {
			pem, pub, err := ghapitest.GenerateAppKey()
			Expect(err).NotTo(HaveOccurred())
			*app.key = pem
			fakeGitHub.AddApp(app.id, pub)
			fakeGitHub.AddInstallation(app.id, app.installation, app.owner, app.perms)
		}
		// ghinstallation renews a minute before expiry: 62 s tokens are
		// renewed every two seconds, many times within a spec.
		fakeGitHub.SetInstallationTokenTTL(62 * time.Second)
		keyFile := filepath.Join(GinkgoT().TempDir(), "app.pem")
		Expect(os.WriteFile(keyFile, operatorKey, 0o600)).To(Succeed())
		stopTheManager()
		startManagerWith(managerOptions{github: ghapi.Options{BaseURL: fakeGitHub.URL,
			App: ghapi.AppOptions{ID: operatorApp, PrivateKeyFile: keyFile}}})
		DeferCleanup(func() {
			fakeGitHub.SetInstallationTokenTTL(time.Hour)
			stopTheManager()
			startManager()
		})
	})

	It("dispatches and follows with the operator's App and a team's App Secret side by side, on tokens renewed before they expire", func() {
		appSecret("team-app", map[string]string{"githubAppID": "802", "githubAppPrivateKey": string(teamKey)})
		ours := createCast("app-operator-wide", nil)
		theirs := createCast("app-per-cast", withSecret("team-app", "team-b/tools"))
		for _, c := range []*castv1alpha1.Cast{ours, theirs} {
			Eventually(fetch(c)).Should(HaveField("Status.RunID", Not(BeZero())))
		}
		Expect(identityOfDispatch(fetch(ours)(Default))).To(Equal("installation:8101"))
		Expect(identityOfDispatch(fetch(theirs)(Default))).To(Equal("installation:8201"), "the team's installation, found by its owner")

		By("resyncs going on past several token lifetimes")
		Eventually(func() int { return fakeGitHub.InstallationTokensIssued(operatorInstallation) }).
			WithTimeout(30 * time.Second).Should(BeNumerically(">=", 3))
		Expect(fakeGitHub.InstallationTokensIssued(teamInstallation)).To(BeNumerically(">=", 2))
		run := fetch(ours)(Default).Status.RunID
		fakeGitHub.UpdateRun(run, func(r *ghapitest.Run) {
			r.Status, r.Conclusion, r.UpdatedAt = "completed", "success", time.Now().Add(time.Second)
		})
		Eventually(fetch(ours)).Should(And(phase(castv1alpha1.PhaseSucceeded), conditionTrue(castv1alpha1.ConditionComplete)))
		for _, r := range fakeGitHub.Requests() {
			Expect(r.ExpiredToken).To(BeFalse(), "%s %s was sent with an expired installation token", r.Method, r.Path)
		}
		Expect(accessCondition(fetch(ours)(Default))).To(BeNil(), "a healthy Cast carries no GitHubAccess condition")
	})

	It("names a malformed key", func() {
		appSecret("bad-pem", map[string]string{"githubAppID": "802", "githubAppPrivateKey": "not a key"})
		accessProblem(createCast("app-malformed-key", withSecret("bad-pem", "team-b/tools")),
			castv1alpha1.ReasonCredentialsInvalid, "not a PEM-encoded RSA private key", "Secret default/bad-pem")
	})

	It("names a key that is not the App's", func() {
		appSecret("wrong-key", map[string]string{"githubAppID": "802", "githubAppPrivateKey": string(operatorKey)})
		accessProblem(createCast("app-wrong-key", withSecret("wrong-key", "team-b/tools")),
			castv1alpha1.ReasonCredentialsInvalid, "wrong private key or App ID")
	})

	It("names an owner the App is not installed on, without asking GitHub again and again", func() {
		appSecret("team-app-elsewhere", map[string]string{"githubAppID": "802", "githubAppPrivateKey": string(teamKey)})
		c := createCast("app-not-installed", withSecret("team-app-elsewhere", "elsewhere/tools"))
		accessProblem(c, castv1alpha1.ReasonAppNotInstalled, "not installed on elsewhere")
		lookups := func() int { n, _ := requestsUnder("/repos/elsewhere/tools/installation"); return n }
		before := lookups()
		time.Sleep(3 * testResync)
		Expect(lookups()-before).To(BeZero(), "lookups repeated within the minute a miss is remembered")
	})

	It("names a missing Actions: write permission, and does not send the refused dispatch again and again", func() {
		appSecret("read-only-app", map[string]string{"githubAppID": "803", "githubAppPrivateKey": string(readOnlyKey),
			"githubAppInstallationID": "8301"})
		c := createCast("app-read-only", withSecret("read-only-app", "readonly-org/tools"))
		accessProblem(c, castv1alpha1.ReasonPermissionDenied, "Actions: write")
		dispatches := func() int { return len(postsUnder("/repos/readonly-org/tools/actions/workflows")) }
		Expect(dispatches()).To(Equal(1), "GitHub's refusal is remembered")
		time.Sleep(3 * testResync)
		Expect(dispatches()).To(Equal(1), "refused dispatches repeated within the minute a refusal is remembered")
	})
})
