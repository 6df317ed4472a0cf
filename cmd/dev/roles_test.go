package dev

import (
	"context"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/internal/scheme"
)

func TestAggregate(t *testing.T) {
	read := rbacv1.PolicyRule{APIGroups: []string{"spell.dev"}, Resources: []string{"casts"}, Verbs: []string{"get", "list", "watch"}}
	write := rbacv1.PolicyRule{APIGroups: []string{"spell.dev"}, Resources: []string{"casts"}, Verbs: []string{"create"}}
	pods := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}
	role := func(name string, labels map[string]string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
		return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
	}
	toView := map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}
	toEdit := map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}
	viewRule := &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: toView}}}
	cases := []struct {
		name  string
		self  string
		rule  *rbacv1.AggregationRule
		roles []rbacv1.ClusterRole
		want  []rbacv1.PolicyRule
	}{
		{name: "matching roles in name order", self: "view", rule: viewRule,
			roles: []rbacv1.ClusterRole{role("z-pods", toView, pods), role("a-casts", toView, read), role("editor", toEdit, write)},
			want:  []rbacv1.PolicyRule{read, pods}},
		{name: "a rule two roles grant is kept once", self: "view", rule: viewRule,
			roles: []rbacv1.ClusterRole{role("a", toView, read), role("b", toView, read, pods)},
			want:  []rbacv1.PolicyRule{read, pods}},
		{name: "the role never aggregates itself", self: "view", rule: viewRule,
			roles: []rbacv1.ClusterRole{role("view", toView, write), role("a", toView, read)},
			want:  []rbacv1.PolicyRule{read}},
		{name: "any selector matches", self: "edit",
			rule:  &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: toView}, {MatchLabels: toEdit}}},
			roles: []rbacv1.ClusterRole{role("editor", toEdit, write), role("viewer", toView, read)},
			want:  []rbacv1.PolicyRule{write, read}},
		{name: "nothing matches: no rules, not nil", self: "view", rule: viewRule,
			roles: []rbacv1.ClusterRole{role("editor", toEdit, write)},
			want:  []rbacv1.PolicyRule{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := aggregate(tc.self, tc.rule, tc.roles)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got, tc.want) {
				t.Errorf("aggregate = %v, want %v", got, tc.want)
			}
		})
	}
	bad := &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Sometimes"}}}}}
	if _, err := aggregate("view", bad, nil); err == nil {
		t.Error("an invalid selector was accepted")
	}
}

// TestViewCoversCastsUnderMakeRun: on make run's control plane, which has
// no kube-controller-manager, `kubectl create rolebinding --clusterrole=view`
// lets a user read Casts, and edit lets them create Casts, as in a cluster.
func TestViewCoversCastsUnderMakeRun(t *testing.T) {
	env, err := localcluster.New("")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	if err := installRoles(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// Installing twice, as every `make run` on a kept data directory does.
	if err := installRoles(ctx, cfg); err != nil {
		t.Fatalf("installing the roles again: %v", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := addRoleAggregation(mgr); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()

	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{"alice": "view", "bob": "edit"} {
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + role, Namespace: "default"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}}}
		if err := c.Create(ctx, rb); err != nil {
			t.Fatal(err)
		}
	}
	kube := kubernetes.NewForConfigOrDie(cfg)
	allowed := func(user, verb, ns string) bool {
		sar, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: "spell.dev", Resource: "casts", Verb: verb, Namespace: ns}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}
	deadline := time.Now().Add(30 * time.Second)
	for !(allowed("alice", "list", "default") && allowed("bob", "create", "default")) {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: view lets alice list Casts: %v; edit lets bob create Casts: %v",
				allowed("alice", "list", "default"), allowed("bob", "create", "default"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The roles still bound what each may do.
	if allowed("alice", "create", "default") {
		t.Error("view lets alice create Casts")
	}
	if allowed("alice", "list", "elsewhere") {
		t.Error("a RoleBinding in default lets alice list Casts in another namespace")
	}
}
