package dashboard_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/sso"
	"github.com/spell-platform/cast-operator/test/kubetest"
	"github.com/spell-platform/cast-operator/test/ssotest"
)

// Single sign-on end to end: Chromium, the streamer, an OpenID Connect
// provider over TLS, and kube-apiserver trusting that provider through
// its structured authentication configuration (suite_test.go). Nothing is
// faked between them: the streamer runs the code flow with PKCE, and
// kube-apiserver's TokenReview and RBAC decide who signed in and what
// they see.
var _ = Describe("Single sign-on", func() {
	var user ssotest.User

	BeforeEach(func() {
		nsCounter++
		user = ssotest.User{Subject: fmt.Sprintf("sub-%d", nsCounter), Email: fmt.Sprintf("dev-%d@example.com", nsCounter), Groups: []string{"developers"}}
		idp.SignIn(user)
		awaitTrusted(idp, user)
	})

	It("signs in at the provider and shows only the namespaces the user's RBAC allows", func() {
		allowed, other := newNamespace(), newNamespace()
		createCast(allowed, "mine", repo, "build.yml", nil)
		createCast(other, "theirs", repo, "build.yml", nil)
		Expect(kubetest.Allow(context.Background(), kube, kubetest.Grant{Namespace: allowed, User: ssoUserPrefix + user.Email})).To(Succeed())

		p, home := ssoStreamer(idp)
		b := openSSOBrowser()
		b.do(chromedp.Navigate(home))
		Eventually(b.visible("signin-form")).Should(BeTrue())
		Expect(b.visible("token")()).To(BeTrue(), "pasting a token stays possible beside single sign-on")
		b.signInWithSSO(ssoUserPrefix + user.Email)
		Expect(mustEval[string](b, `location.href`)).To(Equal(home), "the browser is back on the dashboard, the code gone from the URL")

		By("seeing the namespace the user may read")
		b.chooseNamespace(allowed)
		Eventually(b.rowValue(allowed + "/mine")).Should(HaveField("Phase", "Pending"))

		By("being refused the one they may not")
		b.chooseNamespace(other)
		Eventually(b.text("list-alert")).Should(And(HavePrefix("You may not see these casts:"), ContainSubstring(other)))
		Expect(b.visible("list-alert")()).To(BeTrue())
		Expect(b.rowIDs()).To(BeEmpty())

		By("keeping the ID token out of page scripts' reach")
		Expect(mustEval[string](b, `document.cookie`)).To(BeEmpty())
		c := b.cookie(p.url.String()+"/api/v1/session", sso.SessionCookieName)
		Expect(c).NotTo(BeNil())
		Expect(c.HTTPOnly).To(BeTrue())
		Expect(c.SameSite).To(Equal(network.CookieSameSiteStrict))
		Expect(c.Value).NotTo(HavePrefix("eyJ"), "the cookie holds the ID token sealed, not the JWT")
		Expect(b.cspViolations()).To(BeEmpty())
	})

	It("refuses a sign-in through a provider kube-apiserver does not trust", func() {
		rogue, err := ssotest.Start(ssotest.Options{ClientID: ssoClientID})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(rogue.Close)
		rogue.SignIn(user)

		p, home := ssoStreamer(rogue)
		b := openSSOBrowser()
		b.do(chromedp.Navigate(home))
		Eventually(b.visible("signin-sso")).Should(BeTrue())
		b.do(chromedp.Click(chromedp.CSS("#signin-sso")))
		Eventually(b.text("signin-failure")).Should(And(
			ContainSubstring("The cluster did not accept this sign-in"),
			ContainSubstring(rogue.URL)))
		Expect(b.cookie(p.url.String()+"/api/v1/session", sso.SessionCookieName)).To(BeNil(), "no session")

		By("going back to a dashboard that is still signed out")
		b.do(chromedp.Click(chromedp.CSS("a[href]")))
		Eventually(b.visible("signin-view")).Should(BeTrue())
		Expect(mustEval[int](b, `fetch('api/v1/session').then((r) => r.status)`)).To(Equal(401))
	})

	It("signs out of the dashboard and at the provider", func() {
		p, home := ssoStreamer(idp)
		b := openSSOBrowser()
		b.do(chromedp.Navigate(home))
		b.signInWithSSO(ssoUserPrefix + user.Email)
		before := len(idp.EndSessions())

		b.do(chromedp.Click(chromedp.CSS("#sign-out")))
		Eventually(func() int { return len(idp.EndSessions()) }).Should(Equal(before + 1))
		end := idp.EndSessions()[before]
		Expect(end.Get("client_id")).To(Equal(ssoClientID))
		Expect(end.Get("post_logout_redirect_uri")).To(Equal(home))
		Expect(end.Has("id_token_hint")).To(BeFalse(), "the ID token, a cluster credential, stays out of URLs")

		Eventually(b.visible("signin-view")).Should(BeTrue(), "the provider sends the browser back to the dashboard")
		Expect(b.cookie(p.url.String()+"/api/v1/session", sso.SessionCookieName)).To(BeNil())
		Expect(mustEval[int](b, `fetch('api/v1/session').then((r) => r.status)`)).To(Equal(401), "the session is over")
	})

	It("renews the session before the ID token expires, halfway through a short-lived one", func() {
		idp.SetTokenTTL(20 * time.Second) // shorter than the minute the dashboard renews ahead
		DeferCleanup(idp.SetTokenTTL, time.Hour)
		_, home := ssoStreamer(idp)
		b := openSSOBrowser()
		b.do(chromedp.Navigate(home))
		b.signInWithSSO(ssoUserPrefix + user.Email)
		first, err := b.sessionExpiry()
		Expect(err).NotTo(HaveOccurred())
		refreshes := idp.Refreshes()

		Consistently(idp.Refreshes, "3s", "100ms").Should(Equal(refreshes), "not at once, nor back to back")
		Eventually(idp.Refreshes, 20*time.Second).Should(BeNumerically(">", refreshes))
		Eventually(b.sessionExpiry).ShouldNot(Equal(first), "the session now lasts as long as the new ID token")
		Expect(b.visible("account")()).To(BeTrue(), "without asking to sign in again")
		Consistently(idp.Refreshes, "3s", "100ms").Should(Equal(refreshes+1), "the new token too is renewed halfway, not at once")
	})

	It("renews once for all the browser's tabs, though the provider rotates refresh tokens", func() {
		idp.SetTokenTTL(30 * time.Second)
		DeferCleanup(idp.SetTokenTTL, time.Hour)
		_, home := ssoStreamer(idp)
		b := openSSOBrowser()
		b.do(chromedp.Navigate(home))
		b.signInWithSSO(ssoUserPrefix + user.Email)
		other := b.newTab()
		other.do(chromedp.Navigate(home))
		Eventually(other.text("user-name")).Should(Equal(ssoUserPrefix + user.Email))

		By("reloading both tabs at once, so both mean to renew at the same moment with the same refresh token")
		var wg sync.WaitGroup
		for _, tab := range []*browser{b, other} {
			wg.Go(func() {
				defer GinkgoRecover()
				tab.do(chromedp.Reload())
			})
		}
		wg.Wait()
		for _, tab := range []*browser{b, other} {
			Eventually(tab.text("user-name")).Should(Equal(ssoUserPrefix + user.Email))
		}
		first, err := b.sessionExpiry()
		Expect(err).NotTo(HaveOccurred())
		refreshes := idp.Refreshes()

		Eventually(idp.Refreshes, 30*time.Second).Should(BeNumerically(">", refreshes))
		Consistently(idp.Refreshes, "3s", "100ms").Should(Equal(refreshes+1), "one tab renews; the other takes its session")
		Expect(b.sessionExpiry()).NotTo(Equal(first))
		for _, tab := range []*browser{b, other} {
			Expect(tab.visible("account")()).To(BeTrue(), "no tab asks to sign in again")
			Expect(tab.visible("signin-view")()).To(BeFalse())
		}
	})
})

// ssoStreamer runs a streamer whose dashboard signs in at provider p, and
// returns it with the dashboard's URL.
func ssoStreamer(p *ssotest.Provider) (*streamerProc, string) {
	GinkgoHelper()
	ln := listenLoopback()
	base := "http://" + ln.Addr().String()
	proc := serveStreamer(ln, func(o *streamer.Options) {
		o.SSO = sso.Options{IssuerURL: p.URL, ClientID: ssoClientID, RedirectURL: base + sso.CallbackPath, HTTPClient: p.HTTPClient()}
	})
	return proc, base + "/"
}

// awaitTrusted waits until kube-apiserver accepts the provider's ID
// tokens: its JWT authenticator fetches the keys in the background.
func awaitTrusted(p *ssotest.Provider, u ssotest.User) {
	GinkgoHelper()
	token, err := p.IDToken(u, ssoClientID, "")
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() (string, error) {
		tr, err := kube.AuthenticationV1().TokenReviews().Create(context.Background(),
			&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil {
			return "", err
		}
		return tr.Status.User.Username, nil
	}, time.Minute).Should(Equal(ssoUserPrefix+u.Email), "kube-apiserver must trust the test provider")
}

// openSSOBrowser is openBrowser that accepts the provider's self-signed
// certificate, as a browser trusting a company CA would.
func openSSOBrowser() *browser {
	GinkgoHelper()
	b := openBrowser()
	b.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true})
		return err
	}))
	return b
}

// signInWithSSO clicks "Sign in with SSO" and waits for the dashboard to
// greet who the API server says signed in.
func (b *browser) signInWithSSO(wantUser string) {
	GinkgoHelper()
	Eventually(b.visible("signin-sso")).Should(BeTrue(), "the sign-in form offers single sign-on")
	b.do(chromedp.Click(chromedp.CSS("#signin-sso")))
	Eventually(b.text("user-name")).Should(Equal(wantUser))
}

// sessionExpiry is when the streamer says the page's session ends.
func (b *browser) sessionExpiry() (string, error) {
	return eval[string](b, `fetch('api/v1/session').then((r) => r.json()).then((me) => me.expiresAt)`)
}

// newTab opens another tab of b's browser, which shares its cookies.
func (b *browser) newTab() *browser {
	GinkgoHelper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	DeferCleanup(cancel)
	// The first Run opens the tab and lives as long as it: bound it from
	// outside rather than with a context deadline (as openBrowser does).
	opened := make(chan error, 1)
	go func() { opened <- chromedp.Do(ctx) }()
	select {
	case err := <-opened:
		Expect(err).NotTo(HaveOccurred(), "opening a tab")
	case <-time.After(20 * time.Second):
		cancel()
		Fail("chromium did not open a tab within 20s")
	}
	return &browser{ctx: ctx}
}

// cookie is the browser's cookie name for target, nil when it has none.
func (b *browser) cookie(target, name string) *network.Cookie {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	var found *network.Cookie
	Expect(chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{target}})
		for _, c := range res.Cookies {
			if c.Name == name {
				found = c
			}
		}
		return err
	}))).To(Succeed())
	return found
}
