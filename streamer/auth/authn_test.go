package auth

import (
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var _ = Describe("Authenticator", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) {
		ns = newNamespace(ctx, "authn")
		newServiceAccount(ctx, ns, "viewer")
	})

	newAuthenticator := func(opts AuthenticatorOptions) *Authenticator {
		if opts.Client == nil {
			opts.Client = clientset
		}
		a, err := NewAuthenticator(opts)
		Expect(err).NotTo(HaveOccurred())
		return a
	}

	It("accepts a real ServiceAccount token and reports who and until when", func(ctx SpecContext) {
		sa, err := clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "viewer", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		token, expires := requestToken(ctx, ns, "viewer", time.Hour)
		allowedBefore := decisions(stageAuthn, resultAllowed)

		id, err := newAuthenticator(AuthenticatorOptions{}).Authenticate(ctx, token)
		Expect(err).NotTo(HaveOccurred())
		Expect(id.User.GetName()).To(Equal("system:serviceaccount:" + ns + ":viewer"))
		Expect(id.User.GetUID()).To(Equal(string(sa.UID)))
		Expect(id.User.GetGroups()).To(ContainElements(
			"system:serviceaccounts", "system:serviceaccounts:"+ns, "system:authenticated"))
		Expect(id.ExpiresAt).To(BeTemporally("~", expires, time.Second))
		Expect(id.ExpiresAt).To(BeTemporally("~", time.Now().Add(time.Hour), time.Minute))
		Expect(decisions(stageAuthn, resultAllowed)).To(Equal(allowedBefore + 1))
	})

	It("rejects garbage as unauthenticated, and asks about it only once per failure TTL", func(ctx SpecContext) {
		a := newAuthenticator(AuthenticatorOptions{})
		callsBefore := apiCalls(kindTokenReview)
		deniedBefore := decisions(stageAuthn, resultDenied)
		for range 5 {
			_, err := a.Authenticate(ctx, "not-a-token")
			Expect(err).To(MatchError(ErrUnauthenticated))
		}
		Expect(apiCalls(kindTokenReview) - callsBefore).To(Equal(1.0))
		Expect(decisions(stageAuthn, resultDenied) - deniedBefore).To(Equal(5.0))

		// A JWT-shaped token the API server cannot verify is no different.
		_, err := a.Authenticate(ctx, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
		Expect(err).To(MatchError(ErrUnauthenticated))
		_, err = a.Authenticate(ctx, "")
		Expect(err).To(MatchError(ErrUnauthenticated))
	})

	It("rejects the token of a deleted ServiceAccount", func(ctx SpecContext) {
		seen, _ := requestToken(ctx, ns, "viewer", time.Hour)
		unseen, _ := requestToken(ctx, ns, "viewer", time.Hour)
		_, err := newAuthenticator(AuthenticatorOptions{}).Authenticate(ctx, seen)
		Expect(err).NotTo(HaveOccurred())

		Expect(clientset.CoreV1().ServiceAccounts(ns).Delete(ctx, "viewer", metav1.DeleteOptions{})).To(Succeed())
		// A fresh authenticator each time: an earlier one may still hold
		// the acceptance in its cache, which is by design.
		authenticate := func(token string) func() error {
			return func() error {
				_, err := newAuthenticator(AuthenticatorOptions{}).Authenticate(ctx, token)
				return err
			}
		}
		Eventually(authenticate(unseen)).WithTimeout(5 * time.Second).Should(MatchError(ErrUnauthenticated))
		// kube-apiserver caches accepted tokens itself (10s by default), so
		// a token it has seen is revoked up to that much later.
		Eventually(authenticate(seen)).WithTimeout(30 * time.Second).WithPolling(time.Second).
			Should(MatchError(ErrUnauthenticated))
	})

	It("rejects a really expired token, judged by the API server", func(ctx SpecContext) {
		token, _ := requestToken(ctx, ns, "viewer", time.Hour)
		a := newAuthenticator(AuthenticatorOptions{})

		// Control: the re-signed token is valid while its window is open,
		// so the rejection below is about expiry and nothing else.
		stillValid := resign(token, time.Now().Add(-time.Minute), time.Now().Add(20*time.Minute))
		id, err := a.Authenticate(ctx, stillValid)
		Expect(err).NotTo(HaveOccurred())
		Expect(id.ExpiresAt).To(BeTemporally("~", time.Now().Add(20*time.Minute), 5*time.Second))

		expired := resign(token, time.Now().Add(-30*time.Minute), time.Now().Add(-10*time.Minute))
		callsBefore := apiCalls(kindTokenReview)
		_, err = a.Authenticate(ctx, expired)
		Expect(err).To(MatchError(ErrUnauthenticated))
		Expect(apiCalls(kindTokenReview)-callsBefore).To(Equal(1.0), "the API server, not a local check, rejected it")
	})

	It("does not let a cached acceptance outlive the token", func(ctx SpecContext) {
		token, _ := requestToken(ctx, ns, "viewer", time.Hour)
		expires := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
		shortLived := resign(token, time.Now().Add(-time.Minute), expires)
		a := newAuthenticator(AuthenticatorOptions{CacheTTL: time.Minute})

		id, err := a.Authenticate(ctx, shortLived)
		Expect(err).NotTo(HaveOccurred())
		Expect(id.ExpiresAt).To(BeTemporally("==", expires))

		time.Sleep(time.Until(expires) + 100*time.Millisecond)
		callsBefore := apiCalls(kindTokenReview)
		_, err = a.Authenticate(ctx, shortLived)
		Expect(err).To(MatchError(ErrUnauthenticated))
		Expect(apiCalls(kindTokenReview)).To(Equal(callsBefore), "served from the cache, refused on exp")
	})

	It("rejects tokens meant for another audience", func(ctx SpecContext) {
		forOther, _ := requestToken(ctx, ns, "viewer", time.Hour, "other")
		forAPIServer, _ := requestToken(ctx, ns, "viewer", time.Hour)

		byDefault := newAuthenticator(AuthenticatorOptions{})
		_, err := byDefault.Authenticate(ctx, forOther)
		Expect(err).To(MatchError(ErrUnauthenticated))
		_, err = byDefault.Authenticate(ctx, forAPIServer)
		Expect(err).NotTo(HaveOccurred())

		onlyOther := newAuthenticator(AuthenticatorOptions{Audiences: []string{"other"}})
		id, err := onlyOther.Authenticate(ctx, forOther)
		Expect(err).NotTo(HaveOccurred())
		Expect(id.User.GetName()).To(Equal("system:serviceaccount:" + ns + ":viewer"))
		_, err = onlyOther.Authenticate(ctx, forAPIServer)
		Expect(err).To(MatchError(ErrUnauthenticated))
	})

	It("makes one TokenReview per distinct token within the cache TTL", func(ctx SpecContext) {
		token, _ := requestToken(ctx, ns, "viewer", time.Hour)
		other, _ := requestToken(ctx, ns, "viewer", time.Hour)
		a := newAuthenticator(AuthenticatorOptions{CacheTTL: time.Minute})
		callsBefore := apiCalls(kindTokenReview)

		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				defer GinkgoRecover()
				_, err := a.Authenticate(ctx, token)
				Expect(err).NotTo(HaveOccurred())
			})
		}
		wg.Wait()
		for range 30 {
			_, err := a.Authenticate(ctx, token)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(apiCalls(kindTokenReview) - callsBefore).To(Equal(1.0))
		GinkgoWriter.Printf("50 authentications of one token: %v TokenReview call(s)\n", apiCalls(kindTokenReview)-callsBefore)

		_, err := a.Authenticate(ctx, other)
		Expect(err).NotTo(HaveOccurred())
		Expect(apiCalls(kindTokenReview) - callsBefore).To(Equal(2.0))
	})

	It("asks again once the cache TTL has passed", func(ctx SpecContext) {
		token, _ := requestToken(ctx, ns, "viewer", time.Hour)
		a := newAuthenticator(AuthenticatorOptions{CacheTTL: 300 * time.Millisecond})
		callsBefore := apiCalls(kindTokenReview)
		for range 3 {
			_, err := a.Authenticate(ctx, token)
			Expect(err).NotTo(HaveOccurred())
		}
		time.Sleep(400 * time.Millisecond)
		_, err := a.Authenticate(ctx, token)
		Expect(err).NotTo(HaveOccurred())
		Expect(apiCalls(kindTokenReview) - callsBefore).To(Equal(2.0))
	})

	It("reports an unreachable API server as an error, not as a bad token, and does not cache it", func(ctx SpecContext) {
		token, _ := requestToken(ctx, ns, "viewer", time.Hour)
		a := newAuthenticator(AuthenticatorOptions{Client: unreachableClient(), Timeout: 3 * time.Second})
		callsBefore := apiCalls(kindTokenReview)
		errorsBefore := decisions(stageAuthn, resultError)
		for range 2 {
			_, err := a.Authenticate(ctx, token)
			Expect(err).To(HaveOccurred())
			Expect(errors.Is(err, ErrUnauthenticated)).To(BeFalse(), "got %v", err)
		}
		Expect(apiCalls(kindTokenReview) - callsBefore).To(BeNumerically(">=", 2))
		Expect(decisions(stageAuthn, resultError) - errorsBefore).To(Equal(2.0))
	})

	It("reports a streamer without TokenReview rights as an error, not as a bad token", func(ctx SpecContext) {
		// The viewer's own token may not create TokenReviews: the API
		// server answers 403 to the streamer, which is not the caller's fault.
		streamerToken, _ := requestToken(ctx, ns, "viewer", time.Hour)
		callerToken, _ := requestToken(ctx, ns, "viewer", time.Hour)
		a := newAuthenticator(AuthenticatorOptions{Client: clientAs(streamerToken)})
		_, err := a.Authenticate(ctx, callerToken)
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, ErrUnauthenticated)).To(BeFalse(), "got %v", err)
	})

	It("refuses bad options", func() {
		_, err := NewAuthenticator(AuthenticatorOptions{})
		Expect(err).To(HaveOccurred())
		_, err = NewAuthenticator(AuthenticatorOptions{Client: clientset, CacheTTL: -time.Second})
		Expect(err).To(HaveOccurred())
	})
})
