package auth

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

var _ = Describe("Authorizer", func() {
	var (
		nsA, nsB string
		viewer   user.Info
	)

	// The user comes from a real token through the real Authenticator, so
	// the groups RBAC sees are exactly those a caller would have.
	BeforeEach(func(ctx SpecContext) {
		nsA = newNamespace(ctx, "authz-a")
		nsB = newNamespace(ctx, "authz-b")
		newServiceAccount(ctx, nsA, "viewer")
		token, _ := requestToken(ctx, nsA, "viewer", time.Hour)
		a, err := NewAuthenticator(AuthenticatorOptions{Client: clientset})
		Expect(err).NotTo(HaveOccurred())
		id, err := a.Authenticate(ctx, token)
		Expect(err).NotTo(HaveOccurred())
		viewer = id.User
	})

	newAuthorizer := func() *Authorizer {
		z, err := NewAuthorizer(AuthorizerOptions{Client: clientset})
		Expect(err).NotTo(HaveOccurred())
		return z
	}

	rules := func(verbs []string, names ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{APIGroups: []string{"spell.dev"}, Resources: []string{"casts"}, Verbs: verbs, ResourceNames: names}}
	}
	subject := func(ns string) []rbacv1.Subject {
		return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "viewer", Namespace: ns}}
	}
	grantInNamespace := func(ctx context.Context, ns string, subjects []rbacv1.Subject, rules []rbacv1.PolicyRule) {
		role, err := clientset.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "cast-reader-"}, Rules: rules,
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = clientset.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "cast-reader-"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   subjects,
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
	}

	It("forbids everything without a binding, naming what is missing", func(ctx SpecContext) {
		z := newAuthorizer()
		deniedBefore := decisions(stageAuthz, resultDenied)
		err := z.Authorize(ctx, viewer, Scope{Namespace: nsA, Name: "build-42"})
		Expect(err).To(MatchError(ErrForbidden))
		Expect(err.Error()).To(ContainSubstring(
			`user "system:serviceaccount:` + nsA + `:viewer" cannot get or watch casts.spell.dev "build-42" in namespace "` + nsA + `"`))

		err = z.Authorize(ctx, viewer, Scope{Namespace: nsA})
		Expect(err).To(MatchError(ErrForbidden))
		Expect(err.Error()).To(ContainSubstring(`cannot list or watch casts.spell.dev in namespace "` + nsA + `"`))

		err = z.Authorize(ctx, viewer, Scope{})
		Expect(err).To(MatchError(ErrForbidden))
		Expect(err.Error()).To(ContainSubstring(`cannot list or watch casts.spell.dev at the cluster scope`))
		Expect(decisions(stageAuthz, resultDenied) - deniedBefore).To(Equal(3.0))
	})

	It("allows a namespace collection only where a Role grants list and watch", func(ctx SpecContext) {
		grantInNamespace(ctx, nsA, subject(nsA), rules([]string{"list", "watch"}))
		waitForRBAC(ctx, viewer.GetName(), viewer.GetGroups(), "list", nsA, "")
		z := newAuthorizer()

		Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsA})).To(Succeed())
		Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsB})).To(MatchError(ErrForbidden))
		Expect(z.Authorize(ctx, viewer, Scope{})).To(MatchError(ErrForbidden))

		// watch on every name is granted, get is not: only get is missing.
		err := z.Authorize(ctx, viewer, Scope{Namespace: nsA, Name: "build-42"})
		Expect(err).To(MatchError(ErrForbidden))
		Expect(err.Error()).To(ContainSubstring(`cannot get casts.spell.dev "build-42" in namespace "` + nsA + `"`))
	})

	It("allows a single Cast only when the Role names it", func(ctx SpecContext) {
		grantInNamespace(ctx, nsA, subject(nsA), rules([]string{"get", "watch"}, "x"))
		waitForRBAC(ctx, viewer.GetName(), viewer.GetGroups(), "get", nsA, "x")
		z := newAuthorizer()

		Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsA, Name: "x"})).To(Succeed())
		err := z.Authorize(ctx, viewer, Scope{Namespace: nsA, Name: "y"})
		Expect(err).To(MatchError(ErrForbidden))
		Expect(err.Error()).To(ContainSubstring(`cannot get or watch casts.spell.dev "y"`))
		Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsA})).To(MatchError(ErrForbidden))
		Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsB, Name: "x"})).To(MatchError(ErrForbidden))
	})

	It("allows all namespaces with a ClusterRole bound cluster-wide", func(ctx SpecContext) {
		cr, err := clientset.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "cast-reader-"}, Rules: rules([]string{"list", "watch"}),
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		crb, err := clientset.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "cast-reader-"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name},
			Subjects:   subject(nsA),
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			Expect(clientset.RbacV1().ClusterRoleBindings().Delete(ctx, crb.Name, metav1.DeleteOptions{})).To(Succeed())
			Expect(clientset.RbacV1().ClusterRoles().Delete(ctx, cr.Name, metav1.DeleteOptions{})).To(Succeed())
		})
		waitForRBAC(ctx, viewer.GetName(), viewer.GetGroups(), "list", "", "")
		z := newAuthorizer()

		Expect(z.Authorize(ctx, viewer, Scope{})).To(Succeed())
		Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsA})).To(Succeed())
		Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsB})).To(Succeed())
	})

	It("passes the caller's groups, system:authenticated included, to RBAC", func(ctx SpecContext) {
		grantInNamespace(ctx, nsB, []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: user.AllAuthenticated}},
			rules([]string{"list", "watch"}))
		waitForRBAC(ctx, "someone", []string{user.AllAuthenticated}, "watch", nsB, "")
		Expect(newAuthorizer().Authorize(ctx, viewer, Scope{Namespace: nsB})).To(Succeed())
	})

	It("makes one SubjectAccessReview per verb per (user, scope) within the TTL", func(ctx SpecContext) {
		grantInNamespace(ctx, nsA, subject(nsA), rules([]string{"list", "watch"}))
		waitForRBAC(ctx, viewer.GetName(), viewer.GetGroups(), "watch", nsA, "")
		z := newAuthorizer()

		callsBefore := apiCalls(kindSubjectAccessReview)
		for range 25 {
			Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsA})).To(Succeed())
		}
		allowedCalls := apiCalls(kindSubjectAccessReview) - callsBefore
		Expect(allowedCalls).To(Equal(2.0), "list and watch, once each")

		for range 25 {
			Expect(z.Authorize(ctx, viewer, Scope{Namespace: nsB})).To(MatchError(ErrForbidden))
		}
		deniedCalls := apiCalls(kindSubjectAccessReview) - callsBefore - allowedCalls
		Expect(deniedCalls).To(Equal(2.0), "refusals are cached too")
		GinkgoWriter.Printf("25 allowed + 25 denied authorizations: %v + %v SubjectAccessReview call(s)\n", allowedCalls, deniedCalls)
	})

	It("reports an unreachable API server as an error, not as forbidden", func(ctx SpecContext) {
		z, err := NewAuthorizer(AuthorizerOptions{Client: unreachableClient()})
		Expect(err).NotTo(HaveOccurred())
		errorsBefore := decisions(stageAuthz, resultError)
		err = z.Authorize(ctx, viewer, Scope{Namespace: nsA})
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, ErrForbidden)).To(BeFalse(), "got %v", err)
		Expect(decisions(stageAuthz, resultError) - errorsBefore).To(Equal(1.0))
	})

	It("refuses a name without a namespace and a missing user", func(ctx SpecContext) {
		z := newAuthorizer()
		Expect(z.Authorize(ctx, viewer, Scope{Name: "x"})).To(MatchError(ErrForbidden))
		Expect(z.Authorize(ctx, nil, Scope{Namespace: nsA})).To(MatchError(ErrForbidden))
	})
})
