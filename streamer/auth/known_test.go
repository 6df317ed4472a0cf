package auth

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Known tokens", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) {
		ns = newNamespace(ctx, "known")
		newServiceAccount(ctx, ns, "viewer")
	})

	It("knows a token once the API server accepted it, past the token cache's TTL, until forgotten", func(ctx SpecContext) {
		token, _ := requestToken(ctx, ns, "viewer", time.Hour)
		a, err := NewAuthenticator(AuthenticatorOptions{Client: clientset, CacheTTL: 200 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Known(token)).To(BeFalse(), "never seen")

		_, err = a.Authenticate(ctx, token)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Known(token)).To(BeTrue())
		time.Sleep(300 * time.Millisecond)
		Expect(a.Known(token)).To(BeTrue(), "a token cache miss does not make a good token a stranger")

		a.Forget(token)
		Expect(a.Known(token)).To(BeFalse())
	})

	It("never knows a rejected token, and asks nothing to answer", func(ctx SpecContext) {
		a, err := NewAuthenticator(AuthenticatorOptions{Client: clientset})
		Expect(err).NotTo(HaveOccurred())
		_, err = a.Authenticate(ctx, "made-up")
		Expect(err).To(MatchError(ErrUnauthenticated))
		callsBefore := apiCalls(kindTokenReview)
		Expect(a.Known("made-up")).To(BeFalse())
		Expect(a.Known("")).To(BeFalse())
		Expect(apiCalls(kindTokenReview)).To(Equal(callsBefore))
	})

	It("stops knowing a token when it expires", func(ctx SpecContext) {
		token, _ := requestToken(ctx, ns, "viewer", time.Hour)
		expires := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
		shortLived := resign(token, time.Now().Add(-time.Minute), expires)
		a, err := NewAuthenticator(AuthenticatorOptions{Client: clientset})
		Expect(err).NotTo(HaveOccurred())
		_, err = a.Authenticate(ctx, shortLived)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Known(shortLived)).To(BeTrue())
		time.Sleep(time.Until(expires) + 100*time.Millisecond)
		Expect(a.Known(shortLived)).To(BeFalse())
	})
})
