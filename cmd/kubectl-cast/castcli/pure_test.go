package castcli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

func TestCastRef(t *testing.T) {
	for _, tt := range []struct {
		in   string
		name string
		ok   bool
	}{
		{"cast/hello", "hello", true},
		{"casts/hello", "hello", true},
		{"cast.spell.dev/hello", "hello", true},
		{"casts.spell.dev/hello", "hello", true},
		{"hello", "", false},
		{"pod/hello", "", false},
		{"cast/", "", false},
		{"cast/a/b", "", false},
		{"", "", false},
	} {
		name, ok := castRef(tt.in)
		if ok != tt.ok || (ok && name != tt.name) {
			t.Errorf("castRef(%q) = %q, %v; want %q, %v", tt.in, name, ok, tt.name, tt.ok)
		}
	}
}

func TestTableRow(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	cast := func(phase castv1alpha1.CastPhase, progress int32, attempt int64, age time.Duration) *castv1alpha1.Cast {
		c := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Name: "c"}}
		if age > 0 {
			c.CreationTimestamp = metav1.NewTime(now.Add(-age))
		}
		c.Status.Phase, c.Status.Progress, c.Status.RunAttempt = phase, progress, attempt
		return c
	}
	for _, tt := range []struct {
		c    *castv1alpha1.Cast
		want string
	}{
		{cast("", 0, 0, 5*time.Second), "c - 0% - 5s"},
		{cast(castv1alpha1.PhaseRunning, 40, 1, 90*time.Minute), "c Running 40% 1 90m"},
		{cast(castv1alpha1.PhaseSucceeded, 100, 3, 49*time.Hour), "c Succeeded 100% 3 2d1h"},
		{cast(castv1alpha1.PhasePending, 0, 0, 0), "c Pending 0% - <unknown>"},
	} {
		if got := strings.Join(tableRow(tt.c, now), " "); got != tt.want {
			t.Errorf("row %q, want %q", got, tt.want)
		}
	}
	var b bytes.Buffer
	c := cast("", 0, 0, time.Second)
	c.Namespace = "ns"
	kubetest.Must(t, printTable(&b, []castv1alpha1.Cast{*c}, true, now))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAMESPACE   NAME") || !strings.HasPrefix(lines[1], "ns          c    ") {
		t.Errorf("with the namespace column:\n%s", b.String())
	}
}

func TestDecodeExtension(t *testing.T) {
	unknown := func(raw string) *clientcmdapi.Cluster {
		return &clientcmdapi.Cluster{Extensions: map[string]runtime.Object{StreamerExtension: &runtime.Unknown{Raw: []byte(raw)}}}
	}
	for _, tt := range []struct {
		name    string
		cluster *clientcmdapi.Cluster
		server  string
		ca      string
		wantErr bool
	}{
		{"no extension", &clientcmdapi.Cluster{}, "", "", false},
		{"server and CA", unknown(`{"server":"https://cast.example","certificate-authority-data":"UEVN"}`), "https://cast.example", "PEM", false},
		{"server only", unknown(`{"server":"http://127.0.0.1:8090"}`), "http://127.0.0.1:8090", "", false},
		{"not base64", unknown(`{"certificate-authority-data":"%%%"}`), "", "", true},
		{"not an object", unknown(`"https://cast.example"`), "", "", true},
	} {
		ext, err := decodeExtension(tt.cluster)
		if (err != nil) != tt.wantErr || ext.Server != tt.server || string(ext.CertificateAuthorityData) != tt.ca {
			t.Errorf("%s: %+v, %v", tt.name, ext, err)
		}
	}
}

// TestKrewManifest keeps the krew manifest installable: krew's kind, one
// platform per release archive, each naming the binary it holds.
func TestKrewManifest(t *testing.T) {
	b, err := os.ReadFile("../../../hack/krew/cast.yaml")
	kubetest.Must(t, err)
	var m struct {
		APIVersion string                `json:"apiVersion"`
		Kind       string                `json:"kind"`
		Metadata   struct{ Name string } `json:"metadata"`
		Spec       struct {
			Version   string `json:"version"`
			Platforms []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				SHA256 string `json:"sha256"`
				Bin    string `json:"bin"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	kubetest.Must(t, yaml.Unmarshal(b, &m))
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "cast" {
		t.Errorf("not krew's Plugin named cast: %s %s %s", m.APIVersion, m.Kind, m.Metadata.Name)
	}
	if len(m.Spec.Platforms) < 4 {
		t.Fatalf("%d platforms", len(m.Spec.Platforms))
	}
	for _, p := range m.Spec.Platforms {
		osArch := p.Selector.MatchLabels["os"] + "_" + p.Selector.MatchLabels["arch"]
		wantBin := "kubectl-cast"
		if p.Selector.MatchLabels["os"] == "windows" {
			wantBin += ".exe"
		}
		if !strings.HasSuffix(p.URI, "_"+osArch+".tar.gz") || !strings.Contains(p.SHA256, osArch) || p.Bin != wantBin {
			t.Errorf("platform %s: uri %s, sha256 %s, bin %s", osArch, p.URI, p.SHA256, p.Bin)
		}
	}
}

// TestUsageExitCodes: usage errors exit 2, as cast-operator watch's do,
// before any kubeconfig is read.
func TestUsageExitCodes(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	for _, args := range [][]string{
		{"frobnicate"},
		{"get", "a", "b"},
		{"cancel"},
		{"rerun", "a", "b"},
		{"create", "x"},
		{"create", "--from=pod/x"},
		{"watch", "--no-such-flag"},
		{"watch", "-o", "yaml"},
		{"watch", "-A", "a"},
		{"watch", "-l", "team=blue", "a"},
	} {
		if r := run(context.Background(), args...); r.code != 2 {
			t.Errorf("kubectl cast %q: exit %d (%s), want 2", args, r.code, r.stderr)
		}
	}
	if r := run(context.Background()); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("no command: exit %d, %q; want the help", r.code, r.stdout)
	}
}
