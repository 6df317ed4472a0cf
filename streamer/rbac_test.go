package streamer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// TestStreamerRoleHasNoWriteRights keeps the streamer's ServiceAccount
// read-only: actions on Casts go out with the caller's token, so the
// streamer never needs to write, and a leak of its credentials must not
// let anyone cancel or re-run anything.
func TestStreamerRoleHasNoWriteRights(t *testing.T) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "streamer_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string][]string{
		"casts":                {"get", "list", "watch"},
		"tokenreviews":         {"create"},
		"subjectaccessreviews": {"create"},
	}
	found := false
	for doc := range strings.SplitSeq(string(data), "\n---") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		if role.Kind != "ClusterRole" {
			continue
		}
		found = true
		for _, rule := range role.Rules {
			for _, res := range rule.Resources {
				for _, verb := range rule.Verbs {
					if !slices.Contains(allowed[res], verb) {
						t.Errorf("the streamer's role grants %s on %s; it may only %v", verb, res, allowed[res])
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("no ClusterRole in config/rbac/streamer_role.yaml")
	}
}
