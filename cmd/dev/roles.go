package dev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// userRoleFiles are the ClusterRoles in config/rbac that aggregate into
// the built-in view, edit and admin roles; `make deploy` installs them,
// and so does `make run`, so a RoleBinding to view lets a user read Casts
// on the local control plane as in a cluster.
var userRoleFiles = []string{"cast_viewer_role.yaml", "cast_editor_role.yaml"}

// namePrefix is config/default's, so the roles have the names they have
// in a cluster.
const namePrefix = "cast-operator-"

// viewerRole and editorRole are cast_viewer_role.yaml's and
// cast_editor_role.yaml's ClusterRoles under that prefix.
const (
	viewerRole = namePrefix + "cast-viewer"
	editorRole = namePrefix + "cast-editor"
)

// installUserRoles creates or updates the aggregated user roles from the
// checkout's config/rbac.
func installUserRoles(ctx context.Context, c client.Client, root string) error {
	for _, file := range userRoleFiles {
		raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", file))
		if err != nil {
			return fmt.Errorf("reading the user roles: %w", err)
		}
		var want rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict(raw, &want); err != nil {
			return fmt.Errorf("parsing config/rbac/%s: %w", file, err)
		}
		want.Name = namePrefix + want.Name
		var have rbacv1.ClusterRole
		err = c.Get(ctx, types.NamespacedName{Name: want.Name}, &have)
		switch {
		case apierrors.IsNotFound(err):
			err = c.Create(ctx, &want)
		case err == nil:
			have.Labels, have.Rules = want.Labels, want.Rules
			err = c.Update(ctx, &have)
		}
		if err != nil {
			return fmt.Errorf("installing ClusterRole %s: %w", want.Name, err)
		}
	}
	return nil
}

// roleAggregator does on the local control plane what
// kube-controller-manager's clusterrole-aggregation controller does in a
// cluster, which `make run` does not have: without it view, edit and admin
// never gain the rules of the roles labelled to aggregate into them.
type roleAggregator struct {
	client.Client
}

// addRoleAggregation runs the aggregator in mgr: any ClusterRole change
// re-aggregates every role with an aggregationRule.
func addRoleAggregation(mgr ctrl.Manager) error {
	a := &roleAggregator{Client: mgr.GetClient()}
	err := ctrl.NewControllerManagedBy(mgr).Named("dev-clusterrole-aggregation").
		Watches(&rbacv1.ClusterRole{}, handler.EnqueueRequestsFromMapFunc(a.aggregating)).
		Complete(a)
	if err != nil {
		return fmt.Errorf("setting up ClusterRole aggregation: %w", err)
	}
	return nil
}

// aggregating names every ClusterRole with an aggregationRule.
func (a *roleAggregator) aggregating(ctx context.Context, _ client.Object) []reconcile.Request {
	var roles rbacv1.ClusterRoleList
	if err := a.List(ctx, &roles); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing ClusterRoles to aggregate")
		return nil
	}
	var reqs []reconcile.Request
	for _, r := range roles.Items {
		if r.AggregationRule != nil {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: r.Name}})
		}
	}
	return reqs
}

func (a *roleAggregator) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var role rbacv1.ClusterRole
	if err := a.Get(ctx, req.NamespacedName, &role); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if role.AggregationRule == nil {
		return reconcile.Result{}, nil
	}
	var all rbacv1.ClusterRoleList
	if err := a.List(ctx, &all); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing ClusterRoles: %w", err)
	}
	rules, err := aggregate(role.Name, role.AggregationRule, all.Items)
	if err != nil {
		return reconcile.Result{}, err
	}
	if equality.Semantic.DeepEqual(rules, role.Rules) {
		return reconcile.Result{}, nil
	}
	role.Rules = rules
	if err := a.Update(ctx, &role); err != nil {
		return reconcile.Result{}, fmt.Errorf("updating aggregated ClusterRole %s: %w", role.Name, err)
	}
	return reconcile.Result{}, nil
}

// aggregate is the rules of every role other than self that one of the
// rule's selectors matches, in the roles' name order, each rule once.
func aggregate(self string, rule *rbacv1.AggregationRule, roles []rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	selectors := make([]labels.Selector, 0, len(rule.ClusterRoleSelectors))
	for i := range rule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&rule.ClusterRoleSelectors[i])
		if err != nil {
			return nil, fmt.Errorf("ClusterRole %s: aggregation selector: %w", self, err)
		}
		selectors = append(selectors, s)
	}
	sorted := slices.Clone(roles)
	slices.SortFunc(sorted, func(a, b rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })
	rules := []rbacv1.PolicyRule{}
	for _, r := range sorted {
		if r.Name == self || !slices.ContainsFunc(selectors, func(s labels.Selector) bool { return s.Matches(labels.Set(r.Labels)) }) {
			continue
		}
		for _, pr := range r.Rules {
			if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(have, pr) }) {
				rules = append(rules, pr)
			}
		}
	}
	return rules, nil
}

// installRoles installs the user roles from this checkout's config/rbac
// with a client of its own: the manager's cache is not running yet.
func installRoles(ctx context.Context, cfg *rest.Config) error {
	root, err := localcluster.RepoRoot()
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return fmt.Errorf("creating a client to install the user roles: %w", err)
	}
	if err := installUserRoles(ctx, c, root); err != nil {
		return err
	}
	return installRequesterPolicy(ctx, c, root)
}

// installRequesterPolicy installs config/policy's ValidatingAdmissionPolicy
// and its binding, as config/default does, so under `make run` too the API
// server vouches for who asked to cancel or re-run a Cast.
func installRequesterPolicy(ctx context.Context, c client.Client, root string) error {
	raw, err := os.ReadFile(filepath.Join(root, "config", "policy", "requester.yaml"))
	if err != nil {
		return fmt.Errorf("reading the requester policy: %w", err)
	}
	docs := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		var obj unstructured.Unstructured
		if err := docs.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("parsing config/policy/requester.yaml: %w", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		obj.SetName(namePrefix + obj.GetName())
		if policy, ok, _ := unstructured.NestedString(obj.Object, "spec", "policyName"); ok {
			if err := unstructured.SetNestedField(obj.Object, namePrefix+policy, "spec", "policyName"); err != nil {
				return fmt.Errorf("naming the policy of %s: %w", obj.GetName(), err)
			}
		}
		var have unstructured.Unstructured
		have.SetGroupVersionKind(obj.GroupVersionKind())
		err = c.Get(ctx, types.NamespacedName{Name: obj.GetName()}, &have)
		switch {
		case apierrors.IsNotFound(err):
			err = c.Create(ctx, &obj)
		case err == nil:
			obj.SetResourceVersion(have.GetResourceVersion())
			err = c.Update(ctx, &obj)
		}
		if err != nil {
			return fmt.Errorf("installing %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
}
